"""Fixtures for the event store: each engine on a real server or file.

``store`` is parametrised over the engines: a test that takes it is part of the
conformance suite and must give the same answers on each. Tests of one engine's own
machinery take ``duckdb_store`` or ``fresh_store``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

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
        events_store = DuckDBEventStore(tmp_path_factory.mktemp("events") / "events.duckdb")
    yield events_store
    events_store.close()


@pytest.fixture(scope="module")
def duckdb_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DuckDBEventStore]:
    events_store = DuckDBEventStore(tmp_path_factory.mktemp("events") / "events.duckdb")
    yield events_store
    events_store.close()


@pytest.fixture
def fresh_store(tmp_path: Path) -> Iterator[DuckDBEventStore]:
    events_store = DuckDBEventStore(tmp_path / "events.duckdb")
    yield events_store
    events_store.close()
