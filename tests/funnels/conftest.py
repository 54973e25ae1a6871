"""Fixtures for workflow reporting: the SQL layer's own tests run on every event engine."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tallybook.events.engines.clickhouse.store import embedded_store
from tallybook.events.engines.duckdb.store import DuckDBEventStore
from tallybook.events.engines.postgres.store import PostgresEventStore
from tallybook.events.engines.runner import QueryRunner

ENGINES = ("duckdb", "postgres", "clickhouse")


@pytest.fixture(scope="module", params=ENGINES)
def store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[QueryRunner]:
    """Shared by a module; tests isolate themselves with fresh organisation ids."""
    events_store: QueryRunner
    if request.param == "postgres":
        events_store = PostgresEventStore(request.getfixturevalue("postgres_events_url"))
    elif request.param == "clickhouse":
        events_store = embedded_store(request.getfixturevalue("chdb_path"))
    else:
        events_store = DuckDBEventStore(tmp_path_factory.mktemp("funnels") / "events.duckdb")
    yield events_store
    events_store.close()
