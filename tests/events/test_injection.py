"""Hostile text in every string that reaches the store is data, never SQL."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest

from tallybook.events.engines.runner import QueryRunner
from tallybook.events.query.dialects import DIALECTS, DialectName
from tallybook.events.query.language import DIMENSIONS, EventQuery, Interval, SelectorFilter
from tallybook.events.query.plan import FetchPlan
from tallybook.events.query.render import render_fetch
from tests.events.helpers import T0, event, query

HOSTILE = [
    "'; DROP TABLE events; --",
    '" OR 1=1 --',
    "x') OR ('1'='1",
    "$p0",
    "%(p0)s",
    "{p0: String}",
    "\\",
    "%_",
    "😀 ' \"",
    "lambda x: 1",
]
TEXT_DIMENSIONS = ["category", "action", "label", "dim1", "visitor_id", "geo_city"]


def interval() -> Interval:
    return Interval(start=T0 - timedelta(days=1), end=T0 + timedelta(days=1))


@pytest.fixture(scope="module")
def org(store: QueryRunner) -> uuid.UUID:
    organization = uuid.uuid4()
    stored = [
        event(
            organization,
            vendor=text,
            category=text,
            action=text,
            label=text,
            dim1=text,
            visitor_id=text,
            geo_city=text,
            properties=(text, "plain"),
        )
        for text in HOSTILE
    ]
    store.insert(stored)
    return organization


@pytest.mark.parametrize("text", HOSTILE)
@pytest.mark.parametrize("dimension", [*TEXT_DIMENSIONS, "properties"])
def test_hostile_values_in_every_filter_type(
    store: QueryRunner, org: uuid.UUID, text: str, dimension: str
) -> None:
    filters: list[dict[str, Any]] = [
        {"type": "selector", "dimension": dimension, "value": text},
        {"type": "in", "dimension": dimension, "values": [text, "nope"]},
        {"type": "like", "dimension": dimension, "pattern": text},
        {"type": "search", "dimension": dimension, "query": {"type": "contains", "value": text}},
        {"type": "bound", "dimension": dimension, "lower": text, "upper": text},
    ]
    for node in filters:
        q = EventQuery.model_validate({"vendor": text, "filters": node, "group_by": ["label"]})
        rows = store.fetch(org, q, interval(), "UTC").data
        assert [row[1] for row in rows] == [text], node
    assert (
        store.value(org, query(), T0 - timedelta(days=1), T0 + timedelta(days=1), "count") is None
    )
    assert _table_intact(store)


def test_nul_is_refused_by_the_query_language_before_sql() -> None:
    """Like every payload (docs/api.md): NUL never reaches a store through a query."""
    for raw in (
        {"vendor": "a\x00b"},
        {"vendor": "v", "filters": {"type": "selector", "dimension": "label", "value": "a\x00b"}},
    ):
        with pytest.raises(ValueError, match="NUL"):
            EventQuery.model_validate(raw)


@pytest.mark.parametrize("text", ["'; DROP TABLE events; --", "a\\'b", "(?i)' OR '1'='1"])
def test_hostile_regex_is_a_bound_pattern(store: QueryRunner, org: uuid.UUID, text: str) -> None:
    q = EventQuery.model_validate(
        {
            "vendor": HOSTILE[0],
            "filters": {"type": "regex", "dimension": "category", "pattern": text},
        }
    )
    store.fetch(org, q, interval(), "UTC")
    assert _table_intact(store)


@pytest.mark.parametrize("zone", ["UTC'; DROP TABLE events; --", "../../etc/passwd", "UTC "])
def test_hostile_time_zone_is_refused_before_sql(
    store: QueryRunner, org: uuid.UUID, zone: str
) -> None:
    with pytest.raises(ValueError, match="IANA"):
        store.fetch(org, query(), interval(), zone)
    assert _table_intact(store)


def test_names_outside_the_allow_list_never_render() -> None:
    """Even a query built without validation cannot name a column of its own."""
    bad = SelectorFilter.model_construct(
        type="selector",
        dimension="category; DROP TABLE events",  # type: ignore[arg-type]
        value="x",
    )
    q = EventQuery.model_construct(
        vendor="v",
        granularity="all",
        sources=["trusted"],
        aggregations=["count"],
        group_by=[],
        filters=bad,
    )
    plan = FetchPlan.build(uuid.uuid4(), q, T0, T0 + timedelta(days=1), "UTC")
    for dialect in DIALECTS:
        with pytest.raises(ValueError, match="not an event column"):
            render_fetch(plan, dialect)
    grouped = EventQuery.model_construct(
        vendor="v",
        granularity="all",
        sources=["trusted"],
        aggregations=["count"],
        group_by=['x"; --'],  # type: ignore[list-item]
        filters=None,
    )
    with pytest.raises(ValueError, match="not an event column"):
        render_fetch(
            FetchPlan.build(uuid.uuid4(), grouped, T0, T0 + timedelta(days=1), "UTC"),
            DialectName.DUCKDB,
        )


@pytest.mark.parametrize("dialect", DIALECTS)
def test_values_never_appear_in_rendered_sql(dialect: str) -> None:
    marker = "'; DROP TABLE events; --"
    leaves = [{"type": "selector", "dimension": d, "value": marker} for d in DIMENSIONS] + [
        {"type": "regex", "dimension": "category", "pattern": marker},
        {"type": "like", "dimension": "properties", "pattern": marker},
        {
            "type": "search",
            "dimension": "dim2",
            "query": {"type": "insensitive_contains", "value": marker},
        },
        {"type": "bound", "dimension": "dim3", "lower": marker, "upper": marker},
        {"type": "in", "dimension": "partner_organization_ids", "values": [marker, None]},
    ]
    q = EventQuery.model_validate(
        {"vendor": marker, "granularity": "hour", "filters": {"type": "or", "fields": leaves}}
    )
    rendered = render_fetch(
        FetchPlan.build(uuid.uuid4(), q, T0, T0 + timedelta(days=1), "Europe/Helsinki"),
        dialect,  # type: ignore[arg-type]
    )
    assert "DROP" not in rendered.sql
    # One parameter per leaf, two for the bound, one for the vendor.
    assert list(rendered.params.values()).count(marker) == len(leaves) + 2


def _table_intact(store: QueryRunner) -> bool:
    """Both tables still answer (a statement on a dropped table fails)."""
    for table in ("events", "event_ids"):
        store.execute(f"SELECT count(*) FROM {table}", {})
    return True
