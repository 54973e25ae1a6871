"""Fixtures for the event store: a real DuckDB file per test module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tallybook.events.engines.duckdb.store import DuckDBEventStore


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DuckDBEventStore]:
    """Shared by a module; tests isolate themselves with fresh organisation ids."""
    events_store = DuckDBEventStore(tmp_path_factory.mktemp("events") / "events.duckdb")
    yield events_store
    events_store.close()


@pytest.fixture
def fresh_store(tmp_path: Path) -> Iterator[DuckDBEventStore]:
    events_store = DuckDBEventStore(tmp_path / "events.duckdb")
    yield events_store
    events_store.close()
