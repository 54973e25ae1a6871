"""The seams between the query side and the engines: the registry, the shared runner's
stream, its generic defaults, and parameters rebound by name."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tallybook.events.engines import registry
from tallybook.events.engines.base import BulkLoad, PlainInsert
from tallybook.events.engines.duckdb.store import DuckDBEventStore
from tallybook.events.engines.runner import QueryRunner
from tallybook.events.query.dialects import DialectName
from tallybook.events.query.language import Interval
from tallybook.events.query.render import render_value
from tallybook.events.store import open_event_store
from tallybook.settings import ConfigurationError, Settings
from tests.events.helpers import T0, event, query

OPENED: list[str | None] = []


def open_store(url: str | None, settings: Settings) -> DuckDBEventStore | None:
    """An engine registered by the tests: records the URL it was given."""
    OPENED.append(url)
    return DuckDBEventStore(":memory:") if url != "fake://refused" else None


class GenericDuckDB(DuckDBEventStore):
    """The DuckDB engine without its own plain insert and batches: the runner's defaults."""

    insert_plain = QueryRunner.insert_plain
    execute_batches = QueryRunner.execute_batches


def settings(tmp_path: Path, url: str | None) -> Settings:
    return Settings(data_dir=tmp_path / "data", events_url=url, _env_file=None)


def test_registry_picks_the_engine_by_scheme(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(registry.ENGINES, "fake", __name__)
    OPENED.clear()
    store = open_event_store(settings(tmp_path, "fake://somewhere"))
    try:
        assert OPENED == ["fake://somewhere"]
        assert isinstance(store, DuckDBEventStore)
    finally:
        store.close()
    with pytest.raises(ConfigurationError, match="got scheme 'fake'"):
        open_event_store(settings(tmp_path, "fake://refused"))


def test_duckdb_offers_its_capabilities(duckdb_store: DuckDBEventStore) -> None:
    assert isinstance(duckdb_store, PlainInsert) and isinstance(duckdb_store, BulkLoad)


@pytest.fixture(scope="module")
def hours(store: DuckDBEventStore) -> uuid.UUID:
    org = uuid.uuid4()
    store.insert(
        [
            event(org, T0 + timedelta(minutes=37 * i), label=f"l{i % 3}", value=float(i))
            for i in range(40)
        ]
    )
    return org


@pytest.mark.parametrize("batch_rows", [1, 2, 7, 10_000])
def test_stream_yields_the_rows_of_fetch_in_batches(
    store: DuckDBEventStore, hours: uuid.UUID, batch_rows: int
) -> None:
    q = query(granularity="hour", group_by=["label"], aggregations=["count", "sum"])
    interval = Interval(start=T0, end=T0 + timedelta(days=2))
    expected = store.fetch(hours, q, interval, "Europe/Helsinki").data
    batches = list(store.stream(hours, q, interval, "Europe/Helsinki", batch_rows=batch_rows))
    assert [row for batch in batches for row in batch] == expected
    assert all(0 < len(batch) <= batch_rows for batch in batches)
    assert len(batches) == -(-len(expected) // batch_rows)


def test_the_runners_default_batches_match(tmp_path: Path) -> None:
    generic = GenericDuckDB(tmp_path / "events.duckdb")
    try:
        org = uuid.uuid4()
        generic.insert([event(org, T0 + timedelta(hours=i)) for i in range(5)])
        q = query(granularity="hour")
        interval = Interval(start=T0, end=T0 + timedelta(days=1))
        batches = list(generic.stream(org, q, interval, "UTC", batch_rows=2))
        assert [len(batch) for batch in batches] == [2, 2, 1]
        assert [row for batch in batches for row in batch] == generic.fetch(
            org, q, interval, "UTC"
        ).data
    finally:
        generic.close()


def test_the_runners_default_plain_insert_stores_what_the_fast_path_does(
    tmp_path: Path, store: DuckDBEventStore
) -> None:
    org = uuid.uuid4()
    now = datetime(2021, 3, 28, 12, tzinfo=UTC)
    rows: list[dict[str, Any]] = [
        {"organization_id": str(org), "source": "trusted", "received_at": now},
        {
            "organization_id": str(org),
            "id": str(uuid.uuid4()),
            "source": "trusted",
            "received_at": now,
            "timestamp": datetime(2021, 3, 28, 1),
            "event_version": 2,
            "vendor": "v",
            "category": "c",
            "action": "a",
            "label": "l",
            "value": 2.5,
            "properties": ["x", "y"],
            "dim1": "d",
        },
    ]
    for row in rows[:1]:
        row.update(event_version=1, vendor="v", category="c", action="a", label="l")
    generic = GenericDuckDB(tmp_path / "events.duckdb")
    try:
        assert generic.insert_plain(rows) == store.insert_plain(rows)
        assert generic.insert_plain(rows[1:]).duplicates == 1
        q = query(
            granularity="hour",
            group_by=["properties", "dim1", "event_version"],
            aggregations=["count", "sum"],
        )
        interval = Interval(start=T0, end=T0 + timedelta(days=1))
        assert generic.fetch(org, q, interval, "UTC") == store.fetch(org, q, interval, "UTC")
    finally:
        generic.close()


def test_value_rebinds_the_scope_by_name() -> None:
    q = query(filters={"type": "selector", "dimension": "label", "value": "x"})
    first, second = uuid.uuid4(), uuid.uuid4()
    a = render_value(first, q, T0, T0 + timedelta(days=1), "count", DialectName.DUCKDB)
    b = render_value(second, q, T0, T0 + timedelta(days=2), "count", DialectName.DUCKDB)
    assert a.sql == b.sql  # one cached rendering
    assert first in a.params.values() and second in b.params.values()
    assert first not in b.params.values()
    assert T0.replace(tzinfo=None) + timedelta(days=2) in b.params.values()
    assert "x" in a.params.values() and "v" in b.params.values()
