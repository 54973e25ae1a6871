"""Bulk loading and exporting of NDJSON or Parquet files, whatever the engine.

Loading: an engine with the :class:`~tallybook.events.engines.base.BulkLoad` capability
loads a file itself, in one transaction (the DuckDB engine's is described in
:mod:`tallybook.events.engines.duckdb.bulk`). Any other engine gets the file's events in
batches of ``LOAD_BATCH``, read and checked by the same reader (an in-memory DuckDB: the
same fields, defaults and refusals), each batch stored atomically: a load stopped midway
keeps the batches before, and loading the file again stores only the rest of it (events
with an ``id`` are skipped as duplicates; events without one would be stored twice).

Exporting: every event of the store, ordered by organisation and time (the order the
DuckDB loader appends without sorting), streamed to NDJSON — one object per line with the
columns of the event table — or to Parquet (the NDJSON, written to a temporary file
beside it, converted by DuckDB). What ``export_file`` writes, ``load_file`` reads back.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import duckdb
import orjson

from tallybook.events.engines.base import BulkLoad, BulkLoadError
from tallybook.events.engines.duckdb.bulk import PARQUET_SUFFIXES, REQUIRED, source_select
from tallybook.events.query.columns import COLUMNS, LIST_COLUMNS
from tallybook.events.query.language import SOURCES
from tallybook.events.records import EventSource, InsertResult, StoredEvent
from tallybook.events.store import EventStore

LOAD_BATCH: Final = 10_000
EXPORT_BATCH: Final = 10_000
_QUOTED: Final = ", ".join(f'"{name}"' for name in COLUMNS)
_EXPORT_SQL: Final = f'SELECT {_QUOTED} FROM events ORDER BY organization_id, "timestamp"'  # noqa: S608


def load_file(
    store: EventStore, path: Path | str, *, default_source: str = EventSource.EXTERNAL
) -> InsertResult:
    """Load the file: in one transaction where the engine can, else in batches."""
    if default_source not in SOURCES:
        raise ValueError(f"default_source must be one of {', '.join(SOURCES)}")
    file = Path(path)
    if not file.is_file():
        raise BulkLoadError(f"{file} is not a file.")
    if isinstance(store, BulkLoad):
        return store.load_file(file, default_source=default_source)
    return _load_in_batches(store, file, default_source)


def _load_in_batches(store: EventStore, file: Path, default_source: str) -> InsertResult:
    stored = duplicates = 0
    with _reader() as db:
        try:
            select, params = source_select(db, file, default_source)
            cursor = db.execute(select, params)
            while rows := cursor.fetchmany(LOAD_BATCH):
                result = store.insert([_event(file, row) for row in rows])
                stored, duplicates = stored + result.stored, duplicates + result.duplicates
        except (
            duckdb.ConversionException,
            duckdb.InvalidInputException,
            duckdb.IOException,
        ) as exc:
            raise BulkLoadError(f"{file}: {str(exc).splitlines()[0]}") from None
    return InsertResult(stored=stored, duplicates=duplicates)


def _event(file: Path, row: tuple[Any, ...]) -> StoredEvent:
    fields = dict(zip(COLUMNS, row, strict=True))
    for name in REQUIRED:
        if fields[name] is None:
            raise BulkLoadError(f"{file}: an event lacks a required field ({name}).")
    for name in ("timestamp", "received_at"):
        fields[name] = fields[name].replace(tzinfo=UTC)  # the reader's UTC, made explicit
    for name in LIST_COLUMNS:
        fields[name] = tuple(fields[name])
    return StoredEvent(**{name: value for name, value in fields.items() if value is not None})


@contextlib.contextmanager
def _reader() -> Iterator[duckdb.DuckDBPyConnection]:
    db = duckdb.connect()  # in memory: only reads the file
    try:
        db.execute("SET TimeZone = 'UTC'")
        yield db
    finally:
        db.close()


def export_file(store: EventStore, path: Path | str) -> int:
    """Write every event of the store to ``path`` (Parquet for ``.parquet``/``.pq``, else
    NDJSON), replacing it only once complete; how many events."""
    target = Path(path)
    partial = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.partial")
    try:
        if target.suffix.lower() in PARQUET_SUFFIXES:
            ndjson = partial.with_suffix(".ndjson")
            try:
                count = _write_ndjson(store, ndjson)
                _to_parquet(ndjson, partial)
            finally:
                ndjson.unlink(missing_ok=True)
        else:
            count = _write_ndjson(store, partial)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return count


def _write_ndjson(store: EventStore, path: Path) -> int:
    count = 0
    with open(path, "wb") as out:
        for rows in store.execute_batches(_EXPORT_SQL, {}, EXPORT_BATCH):
            lines = [
                orjson.dumps(
                    {
                        name: value
                        for name, value in zip(COLUMNS, row, strict=True)
                        if value is not None
                    },
                    default=_plain,
                    option=orjson.OPT_NAIVE_UTC | orjson.OPT_APPEND_NEWLINE,
                )
                for row in rows
            ]
            out.write(b"".join(lines))
            count += len(rows)
    return count


def _plain(value: Any) -> Any:
    """What orjson does not write itself: a list column an engine answers as a tuple."""
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, datetime):  # an aware one of another zone than UTC
        return value.astimezone(UTC).isoformat()
    raise TypeError(type(value).__name__)


def _to_parquet(ndjson: Path, parquet: Path) -> None:
    with _reader() as db:
        select, params = source_select(db, ndjson, EventSource.EXTERNAL)
        quoted = str(parquet).replace("'", "''")
        db.execute(f"COPY ({select}) TO '{quoted}' (FORMAT parquet)", params)
