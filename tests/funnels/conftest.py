"""Fixtures for workflow reporting: a DuckDB file for the SQL layer's own tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tallybook.events.engines.duckdb.store import DuckDBEventStore


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DuckDBEventStore]:
    """Shared by a module; tests isolate themselves with fresh organisation ids."""
    events_store = DuckDBEventStore(tmp_path_factory.mktemp("funnels") / "events.duckdb")
    yield events_store
    events_store.close()
