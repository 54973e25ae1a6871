"""The plain ingestion path (msgspec's check from the bytes) against the model path.

A batch the plain path accepts must be one the model path accepts, stored with exactly the
same values; everything else must fall back to the model path, which owns the errors.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tallybook.events import service
from tallybook.events.engines.duckdb.store import DuckDBEventStore
from tallybook.kit.errors import InvalidPayload, PayloadTooLarge

NOW = datetime(2021, 7, 23, 8, 30, 15, 123456, tzinfo=UTC)
ORG = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
KEY = "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a"


def event(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "event_version": 1,
        "vendor": "v",
        "category": "c",
        "action": "a",
        "label": "l",
        "organization_id": ORG,
        "timestamp": "2021-07-22T12:00:12.179Z",
    }
    base.update(fields)
    return {name: value for name, value in base.items() if value is not ...}


def body(*events: dict[str, Any]) -> bytes:
    return json.dumps({"events": list(events)}).encode()


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[tuple[DuckDBEventStore, DuckDBEventStore]]:
    plain, model = DuckDBEventStore(tmp_path / "plain.duckdb"), DuckDBEventStore(tmp_path / "m")
    yield plain, model
    plain.close()
    model.close()


def rows(store: DuckDBEventStore) -> list[tuple[Any, ...]]:
    """Every stored row, in the order stored."""
    with store.cursor() as cursor:
        return cursor.execute("SELECT * FROM events ORDER BY rowid").fetchall()


def stored_both_ways(
    stores: tuple[DuckDBEventStore, DuckDBEventStore], raw: bytes, source: str = "untrusted"
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]] | None:
    """Rows from each path, or None when the plain path declines the batch."""
    plain_store, model_store = stores
    plain = service.parse_plain_batch(raw, source, NOW)
    if plain is None:
        return None
    events = service.parse_batch(raw, source, NOW)  # the model path accepts it too
    assert plain.organizations == [e.organization_id for e in events]
    plain_result = plain_store.insert_plain(plain.events)
    model_result = model_store.insert(service.to_stored(events, source, NOW))
    assert plain_result == model_result
    return rows(plain_store), rows(model_store)


TAKEN_PLAINLY = [
    event(),
    event(
        value=35.2,
        properties=["a", "b", ""],
        partner_organization_ids=["p"],
        dim1="1",
        dim5="5",
        visitor_id="vi",
        session_id=None,
        user_id="",
        browser_name="bn",
        browser_version="bv",
        device_screen_height=1080,
        device_screen_width="720",
        device_type="dt",
        geo_city="gc",
        geo_country="FI",
        ip_organization="io",
        os_name="on",
        os_version="ov",
        organization_name="orgn",
        id=KEY,
        source="untrusted",
    ),
    event(timestamp=None),
    event(timestamp=...),
    event(timestamp="2021-07-22T12:00:12+03:00"),
    event(timestamp="2021-07-22T12:00:12.5-12:00"),
    event(timestamp="2021-07-22T12:00:12.179+0530"),
    event(timestamp="2021-07-22T12:00:12"),
    event(timestamp="2021-07-22T12:00:12.123456Z"),
    event(timestamp="2021-07-22 12:00:12z", label="12:34:56.123456"),
    event(timestamp="1970-01-01T00:00:00Z"),
    event(timestamp="1970-01-01T02:00:00+02:00"),
    event(timestamp=(NOW + timedelta(hours=23)).isoformat()),
    event(value=2),
    event(value=-0.0),
    event(value=10**30),
    event(value=5e-324),
    event(value=0.30000000000000004),
    event(event_version=2**31 - 1),
    event(device_screen_height=1080.0, device_screen_width=1080.5),
    event(device_screen_height=1e20, device_screen_width=-0.0),
    event(device_screen_height=10**30, device_screen_width=2**64, value=-(2**63) - 1),
    event(device_screen_height="NaN", device_screen_width=12345.678901234567),
    event(label="x" * 2000, vendor="é" * 1000, category="😀" * 1000),
    event(label='a\n"\\/\t\u00e9\u2028\x7f\x01b', properties=["\u0001"]),
    event(properties=["y" * 1000] * 200, partner_organization_ids=["p" * 100] * 200),
    event(id="00000000-0000-0000-0000-000000000000"),
]


@pytest.mark.parametrize("fields", TAKEN_PLAINLY, ids=range(len(TAKEN_PLAINLY)))
def test_what_the_plain_path_takes_is_stored_as_the_model_stores_it(
    stores: tuple[DuckDBEventStore, DuckDBEventStore], fields: dict[str, Any]
) -> None:
    both = stored_both_ways(stores, body(fields, event(label="second")))
    assert both is not None, "expected the plain path to take this batch"
    plain, model = both
    assert plain == model and len(plain) == 2


def test_repeated_ids_in_a_batch_and_known_ids(
    stores: tuple[DuckDBEventStore, DuckDBEventStore],
) -> None:
    raw = body(event(id=KEY, label="first"), event(id=KEY, label="second"), event())
    first = stored_both_ways(stores, raw)
    again = stored_both_ways(stores, raw)
    assert first is not None and again is not None
    assert first[0] == first[1] and again[0] == again[1]
    with stores[0].cursor() as cursor:
        stored = cursor.execute("SELECT label, id FROM events ORDER BY rowid").fetchall()
    key = uuid.UUID(KEY)
    # The resend adds the event without an id, which is stored with a null id.
    assert stored == [("first", key), ("l", None), ("l", None)]


FALL_BACK = [
    event(organization_id=ORG.upper()),
    event(organization_id=ORG.replace("-", "")),
    event(organization_id="{" + ORG + "}"),
    event(id="urn:uuid:" + KEY),
    event(source="trusted"),
    event(timestamp=(NOW + timedelta(hours=25)).isoformat()),
    event(timestamp="9999-12-31T23:00:00-05:00"),
    event(timestamp="0001-01-01T00:30:00+01:00"),
    event(event_version=0),
    event(event_version="1"),
    event(value="NaN"),
    event(value=None),
    event(vendor=""),
    event(label="x" * 2001),
    event(properties=["a", None]),
    event(device_screen_height=True),
    event(surprise=1),
    event(vendor=...),
    event(label="x\u0000y"),
    event(properties=["\u0000"]),
    event(organization_id=ORG + "\n"),
    event(id=KEY + "\n"),
    event(timestamp="2021-07-22T12:00:12.1234567Z"),
    event(timestamp="2021-07-22T12:00:12.9999999Z"),
    event(timestamp="2021-07-22T12:00:12\u002e9999999Z"),
    event(timestamp="2021-07-22T12:00:12.999999\u0039Z"),
]


@pytest.mark.parametrize("fields", FALL_BACK, ids=range(len(FALL_BACK)))
def test_anything_else_goes_through_the_model(fields: dict[str, Any]) -> None:
    assert service.parse_plain_batch(body(event(), fields), "untrusted", NOW) is None


TAKEN_BY_THE_MODEL_ONLY = [
    event(timestamp="2021-07-22"),
    event(value="35.2"),
    event(timestamp="2021-07-22T12:00:12.123456789Z"),
]


@pytest.mark.parametrize("fields", TAKEN_BY_THE_MODEL_ONLY, ids=range(3))
def test_rarer_spellings_of_timestamps_and_values_are_the_models(fields: dict[str, Any]) -> None:
    raw = body(fields)
    assert service.parse_plain_batch(raw, "untrusted", NOW) is None
    assert len(service.parse_batch(raw, "untrusted", NOW)) == 1


REFUSED_BY_BOTH = [
    ({"timestamp": 1626955212.5}, "must be an ISO 8601 date-time string"),
    ({"timestamp": 1626955212179}, "must be an ISO 8601 date-time string"),
    ({"timestamp": 0}, "must be an ISO 8601 date-time string"),
    ({"timestamp": True}, "must be an ISO 8601 date-time string"),
    ({"timestamp": "1969-12-31T23:59:59.999999Z"}, "supported range"),
    ({"timestamp": "0002-01-01T00:30:00+01:00"}, "supported range"),
    ({"timestamp": "0001-01-01T00:00:00Z"}, "supported range"),
    ({"timestamp": "1970-01-01T00:30:00+01:00"}, "supported range"),
    ({"timestamp": "3000-01-01T00:00:00Z"}, "supported range"),
    ({"timestamp": "9999-12-31T23:00:00-05:00"}, "supported range"),
    ({"value": True}, "not a boolean"),
    ({"value": False}, "not a boolean"),
]


@pytest.mark.parametrize(("fields", "message"), REFUSED_BY_BOTH, ids=range(len(REFUSED_BY_BOTH)))
def test_numbers_as_timestamps_booleans_as_values_and_instants_out_of_range_are_refused(
    fields: dict[str, Any], message: str
) -> None:
    """Issue 9, items 2 and 12: by both paths, naming the event and the field."""
    raw = body(event(), event(**fields))
    assert service.parse_plain_batch(raw, "untrusted", NOW) is None
    with pytest.raises(InvalidPayload) as refused:
        service.parse_batch(raw, "untrusted", NOW)
    (error,) = refused.value.errors or []
    assert error["loc"] == ["body", "events", 1, next(iter(fields))]
    assert message in error["msg"]


def test_digits_beyond_microseconds_are_dropped_not_rounded() -> None:
    """The model path keeps the first six fractional digits; the plain path, whose parser
    would round, leaves such timestamps to it (also when a digit or dot is escaped)."""
    for spelling in ("12.9999999", "12\\u002e9999999", "12.999999\\u0039"):
        raw = body(event()).replace(b"12.179", spelling.encode())
        assert service.parse_plain_batch(raw, "untrusted", NOW) is None
        (stored,) = service.parse_batch(raw, "untrusted", NOW)
        assert stored.timestamp == datetime(2021, 7, 22, 12, 0, 12, 999999, tzinfo=UTC)


def test_a_repeated_field_is_read_as_the_model_reads_it(
    stores: tuple[DuckDBEventStore, DuckDBEventStore],
) -> None:
    raw = body(event()).replace(b'"label": "l"', b'"label": "l", "label": "again"')
    both = stored_both_ways(stores, raw)
    assert both is not None and both[0] == both[1]
    assert "again" in both[0][0]


def test_the_model_path_still_takes_the_rarer_spellings(
    stores: tuple[DuckDBEventStore, DuckDBEventStore],
) -> None:
    raw = body(event(organization_id=ORG.upper(), id="{" + KEY + "}"))
    assert service.parse_plain_batch(raw, "untrusted", NOW) is None
    (stored,) = service.parse_batch(raw, "untrusted", NOW)
    assert stored.organization_id == uuid.UUID(ORG) and stored.id == uuid.UUID(KEY)


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"{",
        b"[]",
        body(),
        json.dumps({"events": [event()], "more": 1}).encode(),
        body(event()).replace(b'"label": "l"', b'"label": "l\\ud800"'),
        body(event()).replace(b'"label": "l"', b'"label": "l", "value": NaN'),
        body(event()).replace(b'"label": "l"', b'"label": "l\xff"'),
        body(*[event()] * 10_001),
    ],
)
def test_malformed_and_oversized_bodies_are_the_models_to_refuse(raw: bytes) -> None:
    assert service.parse_plain_batch(raw, "untrusted", NOW) is None
    with pytest.raises((InvalidPayload, PayloadTooLarge)):
        service.parse_batch(raw, "untrusted", NOW)


TEXTS = st.one_of(
    st.none(),
    st.integers(),
    st.text(max_size=3),
    st.sampled_from(["", "x" * 1000, "x" * 1001, "\u0000", "😀" * 1000, "😀" * 1001]),
)
VALUES: dict[str, Any] = {
    "event_version": st.one_of(st.integers(-2, 3), st.just(2**31), st.floats(), st.text()),
    "organization_id": st.sampled_from([ORG, ORG.upper(), ORG[:-1], 5, None]),
    "id": st.sampled_from([None, KEY, KEY.upper(), "", "x"]),
    "source": st.sampled_from([None, "untrusted", "trusted", 5]),
    "timestamp": st.one_of(
        st.none(),
        st.integers(-(2**40), 2**45),
        st.floats(),
        st.datetimes(timezones=st.none() | st.timezones()).map(datetime.isoformat),
        st.sampled_from(["2021-02-30T00:00:00Z", "2021-07-22T24:00:00Z", "", "x"]),
    ),
    "value": st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=4)),
    "properties": st.one_of(st.none(), st.lists(TEXTS, max_size=3), st.text(max_size=2)),
    "device_screen_height": st.one_of(TEXTS, st.floats(), st.booleans()),
    "vendor": TEXTS,
    "label": TEXTS,
    "dim1": TEXTS,
    "surprise": st.integers(),
}


@st.composite
def mutated(draw: st.DrawFn) -> dict[str, Any]:
    fields = event()
    for name in draw(st.lists(st.sampled_from(sorted(VALUES)), max_size=3, unique=True)):
        if draw(st.booleans()) and name in fields:
            del fields[name]
        else:
            fields[name] = draw(VALUES[name])
    return fields


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(mutated(), min_size=1, max_size=3))
def test_the_plain_path_takes_a_subset_of_the_model_path_and_stores_it_alike(
    tmp_path: Path, events: list[dict[str, Any]]
) -> None:
    raw = json.dumps({"events": events}, allow_nan=True).encode()
    plain = service.parse_plain_batch(raw, "untrusted", NOW)
    if plain is None:
        return
    folder = tmp_path / uuid.uuid4().hex
    plain_store, model_store = DuckDBEventStore(folder / "p"), DuckDBEventStore(folder / "m")
    try:
        both = stored_both_ways((plain_store, model_store), raw)
        assert both is not None and both[0] == both[1]
    finally:
        plain_store.close()
        model_store.close()
