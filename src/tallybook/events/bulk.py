"""Bulk loading of an NDJSON or Parquet file, by the engines that offer it.

The checks every engine shares are here; the load itself is the engine's
:class:`~tallybook.events.engines.base.BulkLoad` capability (the DuckDB engine's is
described in :mod:`tallybook.events.engines.duckdb.bulk`).
"""

from __future__ import annotations

from pathlib import Path

from tallybook.events.engines.base import BulkLoad, BulkLoadError
from tallybook.events.query.language import SOURCES
from tallybook.events.records import EventSource, InsertResult
from tallybook.events.store import EventStore


def load_file(
    store: EventStore, path: Path | str, *, default_source: str = EventSource.EXTERNAL
) -> InsertResult:
    """Load the file in one transaction: all its events are stored, or none."""
    if not isinstance(store, BulkLoad):
        raise TypeError("bulk loading needs the DuckDB event store")
    if default_source not in SOURCES:
        raise ValueError(f"default_source must be one of {', '.join(SOURCES)}")
    file = Path(path)
    if not file.is_file():
        raise BulkLoadError(f"{file} is not a file.")
    return store.load_file(file, default_source=default_source)
