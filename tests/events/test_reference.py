"""The engine against the plain-Python reference on random events and random queries."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tallybook.events.engines.runner import QueryRunner
from tallybook.events.query.language import (
    AGGREGATIONS,
    GRANULARITIES,
    SOURCES,
    EventQuery,
    Interval,
)
from tallybook.events.records import StoredEvent
from tests.events.helpers import reference_fetch, reference_value, same_rows

TEXTS = ["a", "b", "ab", "A", "ä", "Ä", "10", "2.5", "-3", "1e2", " 7", "a\\b", "x%y", ""]
ZONES = ["UTC", "Europe/Helsinki", "America/New_York", "Asia/Kolkata", "Asia/Kathmandu"]
# The 2021 DST changes of Europe (03-28, 10-31) and the US (03-14, 11-07), and the local
# midnights that follow them, where a wrong offset would move an event to another day.
EUROPE = [
    datetime(2021, 3, 28, 1, tzinfo=UTC),
    datetime(2021, 3, 28, 21, tzinfo=UTC),
    datetime(2021, 10, 31, 1, tzinfo=UTC),
    datetime(2021, 10, 31, 22, tzinfo=UTC),
]
AMERICA = [
    datetime(2021, 3, 14, 7, tzinfo=UTC),
    datetime(2021, 3, 15, 4, tzinfo=UTC),
    datetime(2021, 11, 7, 6, tzinfo=UTC),
    datetime(2021, 11, 8, 5, tzinfo=UTC),
]
HOT_SPOTS = {"Europe/Helsinki": EUROPE, "America/New_York": AMERICA}
YEAR_START = datetime(2021, 1, 1, tzinfo=UTC)
DIMENSIONS = [
    "category",
    "action",
    "dim1",
    "visitor_id",
    "event_version",
    "source",
    "properties",
    "partner_organization_ids",
]
REGEXES = ["a", "^a", "b$", "a|c", "[0-9]", "^-", "[.]", "ä", "(?i)a", "^$"]
LIKES = ["a%", "%b", "_", "%a_%", "1%", "ä%", "%\\%", "x%%", "%"]


@st.composite
def instants(draw: st.DrawFn, zone: str) -> datetime:
    kind = draw(st.integers(0, 2))
    if kind < 2:
        spot = draw(st.sampled_from(HOT_SPOTS.get(zone, EUROPE + AMERICA)))
        spread = 3 * 86400 if kind == 0 else 2 * 3600
        return spot + timedelta(seconds=draw(st.integers(-spread, spread)))
    return YEAR_START + timedelta(seconds=draw(st.integers(0, 365 * 86400 - 1)))


optional_text = st.one_of(st.none(), st.sampled_from(TEXTS))
text_lists = st.lists(st.sampled_from(TEXTS), max_size=3).map(tuple)


@st.composite
def events(draw: st.DrawFn, organization_id: uuid.UUID, zone: str) -> StoredEvent:
    timestamp = draw(instants(zone))
    return StoredEvent(
        organization_id=organization_id,
        source=draw(st.sampled_from(SOURCES)),
        timestamp=timestamp,
        received_at=timestamp,
        event_version=draw(st.integers(1, 3)),
        vendor=draw(st.sampled_from(["v", "v", "v", "w"])),
        category=draw(st.sampled_from(TEXTS)),
        action=draw(st.sampled_from(TEXTS)),
        label=draw(st.sampled_from(["l1", "l2"])),
        value=draw(st.floats(-1000, 1000, allow_nan=False).map(lambda v: round(v, 3))),
        properties=draw(text_lists),
        partner_organization_ids=draw(text_lists),
        dim1=draw(optional_text),
        visitor_id=draw(optional_text),
        session_id=draw(optional_text),
        user_id=draw(optional_text),
    )


def leaves(dimension: str) -> st.SearchStrategy[dict[str, Any]]:
    base = {"dimension": dimension}
    value = st.one_of(st.none(), st.sampled_from(TEXTS), st.sampled_from([1, 2, 2.5, -3]))
    numbers = st.sampled_from([-5, -3, 0, 2.5, 10, 100])
    return st.one_of(
        st.builds(lambda v: {**base, "type": "selector", "value": v}, value),
        st.builds(
            lambda vs: {**base, "type": "in", "values": vs}, st.lists(value, min_size=1, max_size=4)
        ),
        st.builds(lambda p: {**base, "type": "regex", "pattern": p}, st.sampled_from(REGEXES)),
        st.builds(lambda p: {**base, "type": "like", "pattern": p}, st.sampled_from(LIKES)),
        st.builds(
            lambda kind, v: {**base, "type": "search", "query": {"type": kind, "value": v}},
            st.sampled_from(["contains", "insensitive_contains"]),
            st.sampled_from([*TEXTS, "A", "B"]),
        ),
        st.builds(
            lambda lo, hi, ls, us: {
                **base,
                "type": "bound",
                "lower": lo,
                "upper": hi,
                "lowerStrict": ls,
                "upperStrict": us,
                "ordering": "lexicographic",
            },
            optional_text,
            st.sampled_from(TEXTS),
            st.booleans(),
            st.booleans(),
        ),
        st.builds(
            lambda lo, hi, ls, us: {
                **base,
                "type": "bound",
                "lower": lo,
                "upper": hi,
                "lowerStrict": ls,
                "upperStrict": us,
                "ordering": "numeric",
            },
            st.one_of(st.none(), numbers),
            numbers,
            st.booleans(),
            st.booleans(),
        ),
    )


filters = st.recursive(
    st.sampled_from(DIMENSIONS).flatmap(leaves),
    lambda children: st.one_of(
        st.builds(
            lambda fs: {"type": "and", "fields": fs}, st.lists(children, min_size=1, max_size=3)
        ),
        st.builds(
            lambda fs: {"type": "or", "fields": fs}, st.lists(children, min_size=1, max_size=3)
        ),
        st.builds(lambda f: {"type": "not", "field": f}, children),
    ),
    max_leaves=4,
)


@st.composite
def queries(draw: st.DrawFn) -> EventQuery:
    raw: dict[str, Any] = {
        "vendor": draw(st.sampled_from(["v", "v", "v", "w"])),
        "granularity": draw(st.sampled_from(GRANULARITIES)),
        "sources": draw(st.lists(st.sampled_from(SOURCES), min_size=1, unique=True)),
        "aggregations": draw(
            st.lists(st.sampled_from(AGGREGATIONS), min_size=1, max_size=4, unique=True)
        ),
        "group_by": draw(st.lists(st.sampled_from(DIMENSIONS), max_size=2, unique=True)),
    }
    if draw(st.booleans()):
        raw["filters"] = draw(filters)
    return EventQuery.model_validate(raw)


@st.composite
def intervals(draw: st.DrawFn, stored: list[StoredEvent], zone: str) -> tuple[datetime, datetime]:
    kind = draw(st.integers(0, 3))
    if kind == 0:  # the whole year, so month and year buckets fill up
        return YEAR_START, YEAR_START + timedelta(days=365)
    if kind == 1 and stored:  # around one of the events
        pivot = draw(st.sampled_from(stored)).timestamp
        start = pivot - timedelta(seconds=draw(st.integers(0, 5 * 86400)))
        return start, pivot + timedelta(seconds=draw(st.integers(1, 40 * 86400)))
    first, second = draw(instants(zone)), draw(instants(zone))
    if first == second:
        second += timedelta(hours=1)
    return min(first, second), max(first, second)


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_fetch_and_value_agree_with_the_reference(store: QueryRunner, data: st.DataObject) -> None:
    org, other = uuid.uuid4(), uuid.uuid4()
    zone = data.draw(st.sampled_from(ZONES))
    stored = data.draw(st.lists(events(org, zone), min_size=10, max_size=80))
    noise = data.draw(st.lists(events(other, zone), max_size=5))  # never visible to org
    store.insert([*stored, *noise])
    q = data.draw(queries())
    start, end = data.draw(intervals(stored, zone))

    result = store.fetch(org, q, Interval(start=start, end=end), zone)

    expected = reference_fetch(stored, org, q, start, end, zone)
    event(f"rows: {'none' if not expected else 'few' if len(expected) < 5 else 'many'}")
    assert result.fields[0] == {"name": "timestamp", "type": "dimension"}
    assert [f["name"] for f in result.fields[1:]] == [*q.group_by, *q.aggregations]
    assert same_rows(result.data, expected), (result.data, expected)
    field = data.draw(st.sampled_from(AGGREGATIONS))
    want = reference_value(stored, org, q, start, end, field)
    got = store.value(org, q, start, end, field)
    assert (got is None) == (want is None)
    if want is not None:
        assert got is not None and abs(got - want) <= 1e-9 * max(1.0, abs(want))
