"""Bulk loading of NDJSON or Parquet files into the DuckDB event store.

DuckDB's own readers parse the file and the rows go from the reader to the table inside
DuckDB; Python never sees an event. A load is one transaction: the whole file is stored or
nothing is. Events are stored sorted by (organization_id, timestamp), so the per-row-group
min/max (zone maps) of a loaded file let queries skip what is outside their organisation and
interval.

File format: Parquet (``.parquet``), or JSON with one object per line (``.ndjson``,
``.jsonl``; a file with another suffix may also hold one JSON array). Each event has the
fields of the ingestion API plus ``source`` (default ``external``) and optional
``received_at`` (default: the load time); ``timestamp`` defaults to the load time too. An
event whose ``id`` its organisation already stored, or that repeats an ``id`` earlier in the
file, is skipped as a duplicate.

The statements are assembled from the fixed column list; the path and the default source
are bound parameters.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

import duckdb

from tallybook.events.columns import COLUMN_TYPES, COLUMNS, LIST_COLUMNS, OPTIONAL_TEXT_COLUMNS
from tallybook.events.duckdb_store import DDL_TYPES, DuckDBEventStore
from tallybook.events.query import SOURCES
from tallybook.events.store import EventStore, InsertResult

PARQUET_SUFFIXES: Final = (".parquet", ".pq")
NDJSON_SUFFIXES: Final = (".ndjson", ".jsonl")  # anything else: NDJSON or one JSON array
REQUIRED: Final = ("organization_id", "event_version", "vendor", "category", "action", "label")


class BulkLoadError(ValueError):
    """The file cannot be loaded; nothing was stored."""


def load_file(
    store: EventStore, path: Path | str, *, default_source: str = "external"
) -> InsertResult:
    if not isinstance(store, DuckDBEventStore):
        raise TypeError("bulk loading needs the DuckDB event store")
    if default_source not in SOURCES:
        raise ValueError(f"default_source must be one of {', '.join(SOURCES)}")
    file = Path(path)
    if not file.is_file():
        raise BulkLoadError(f"{file} is not a file.")
    try:
        return _load(store, file, default_source)
    except duckdb.ConstraintException as exc:
        raise BulkLoadError(
            f"{file}: an event lacks a required field ({_first_line(exc)})."
        ) from None
    except (duckdb.ConversionException, duckdb.InvalidInputException, duckdb.IOException) as exc:
        raise BulkLoadError(f"{file}: {_first_line(exc)}") from None


def _load(store: DuckDBEventStore, file: Path, default_source: str) -> InsertResult:
    try:
        with store.writing() as cursor:
            select, params = source_select(cursor, file, default_source)
            _key_ids(cursor, select, params)
            stored = _append(cursor, select, params)
        return InsertResult(stored=stored, duplicates=0)
    except duckdb.ConstraintException as exc:
        if "event_ids" not in str(exc) and "primary key" not in str(exc).lower():
            raise
    with store.writing() as cursor:
        return _load_checked(cursor, file, default_source)


def _key_ids(cursor: duckdb.DuckDBPyConnection, select: str, params: dict[str, Any]) -> None:
    keys = f"SELECT organization_id, id FROM ({select}) WHERE id IS NOT NULL"  # noqa: S608
    cursor.execute(f"INSERT INTO event_ids {keys}", params)


def _append(cursor: duckdb.DuckDBPyConnection, select: str, params: dict[str, Any]) -> int:
    columns = ", ".join(f'"{name}"' for name in COLUMNS)
    items = ", ".join("COALESCE(id, uuid())" if name == "id" else f'"{name}"' for name in COLUMNS)
    rows = f'SELECT {items} FROM ({select}) ORDER BY organization_id, "timestamp"'  # noqa: S608
    row = cursor.execute(f"INSERT INTO events ({columns}) {rows}", params).fetchone()
    return int(row[0]) if row else 0


def _load_checked(
    cursor: duckdb.DuckDBPyConnection, file: Path, default_source: str
) -> InsertResult:
    """The slow path, for files with ids already stored or repeated: stage, then filter."""
    select, params = source_select(cursor, file, default_source)
    cursor.execute(f"CREATE TEMP TABLE _load AS {select}", params)
    try:
        cursor.execute(
            "CREATE TEMP TABLE _keep AS SELECT k.* FROM ("
            " SELECT organization_id, id, min(rowid) AS first_row FROM _load"
            " WHERE id IS NOT NULL GROUP BY organization_id, id"
            ") AS k ANTI JOIN event_ids AS s USING (organization_id, id)"
        )
        cursor.execute("INSERT INTO event_ids SELECT organization_id, id FROM _keep")
        stored = _append(
            cursor,
            "SELECT * FROM _load WHERE id IS NULL OR rowid IN (SELECT first_row FROM _keep)",
            {},
        )
        total = cursor.execute("SELECT count(*) FROM _load").fetchone()
    finally:
        cursor.execute("DROP TABLE IF EXISTS _keep")
        cursor.execute("DROP TABLE IF EXISTS _load")
    count = int(total[0]) if total else 0
    return InsertResult(stored=stored, duplicates=count - stored)


def source_select(
    db: duckdb.DuckDBPyConnection, file: Path, default_source: str
) -> tuple[str, dict[str, Any]]:
    """A SELECT of the file's events as table columns (``id`` null where the file has none).

    Invalid values stop the statement with a sentence naming the field.
    """
    params: dict[str, Any] = {"path": str(file), "default_source": default_source}
    if file.suffix.lower() in PARQUET_SUFFIXES:
        reader = "read_parquet($path)"
        described = db.execute("DESCRIBE SELECT * FROM read_parquet($path)", {"path": str(file)})
        present = {row[0] for row in described.fetchall()}
    else:
        types = {name: DDL_TYPES[kind] for name, kind in COLUMN_TYPES.items()}
        types["timestamp"] = types["received_at"] = "TIMESTAMPTZ"
        struct = ", ".join(f"'{name}': '{kind}'" for name, kind in types.items())
        # Sniffing the format ('auto') parses NDJSON about 8 % slower.
        layout = "newline_delimited" if file.suffix.lower() in NDJSON_SUFFIXES else "auto"
        reader = f"read_json($path, format := '{layout}', columns := {{{struct}}})"
        present = set(COLUMNS)
    items = [f'{_normalised(name, name in present)} AS "{name}"' for name in COLUMNS]
    return f"SELECT {', '.join(items)} FROM {reader}", params  # noqa: S608


def _normalised(name: str, present: bool) -> str:
    kind = DDL_TYPES[COLUMN_TYPES[name]]
    raw = f'CAST("{name}" AS {kind})' if present else f"CAST(NULL AS {kind})"
    if name in ("timestamp", "received_at"):
        value = f'CAST(CAST("{name}" AS TIMESTAMPTZ) AS TIMESTAMP)' if present else "NULL"
        return f"COALESCE({value}, CAST(now() AS TIMESTAMP))"
    if name == "source":
        return (
            f"CASE WHEN COALESCE({raw}, $default_source) IN {tuple(SOURCES)!r}"
            f" THEN COALESCE({raw}, $default_source)"
            " ELSE error('source must be untrusted, trusted or external') END"
        )
    if name == "event_version":
        return (
            f"CASE WHEN {raw} >= 1 OR {raw} IS NULL THEN {raw}"
            " ELSE error('event_version must be at least 1') END"
        )
    if name == "value":
        return (
            f"CASE WHEN {raw} IS NULL THEN 1.0 WHEN isfinite({raw}) THEN {raw}"
            " ELSE error('value must be a finite number') END"
        )
    if name in LIST_COLUMNS:
        return f"COALESCE(list_filter({raw}, lambda v: v IS NOT NULL), [])"
    if name in REQUIRED or name in OPTIONAL_TEXT_COLUMNS or name == "id":
        return raw
    raise AssertionError(name)


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0][:300]
