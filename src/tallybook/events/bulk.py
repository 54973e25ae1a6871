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

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import duckdb

from tallybook.events.columns import COLUMN_TYPES, COLUMNS, LIST_COLUMNS, OPTIONAL_TEXT_COLUMNS
from tallybook.events.duckdb_store import (
    DDL_TYPES,
    DuckDBEventStore,
    event_ids_ddl,
    key_index_ddl,
)
from tallybook.events.query import SOURCES
from tallybook.events.store import EventStore, InsertResult

PARQUET_SUFFIXES: Final = (".parquet", ".pq")
NDJSON_SUFFIXES: Final = (".ndjson", ".jsonl")  # anything else: NDJSON or one JSON array
REQUIRED: Final = ("organization_id", "event_version", "vendor", "category", "action", "label")
STAGE: Final = "_load_staged"


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
            return _load_new(cursor, file, default_source)
    except (duckdb.ConstraintException, duckdb.TransactionException) as exc:
        if not _is_key_conflict(exc):
            raise
    with store.writing() as cursor:
        return _load_checked(cursor, file, default_source)


def _load_new(cursor: duckdb.DuckDBPyConnection, file: Path, default_source: str) -> InsertResult:
    """The common case: no event's id is known or repeated (else a key conflict)."""
    source = _Source.open(cursor, file, default_source)  # on failure, rolled back with it
    _key_ids(cursor, source)
    stored = _append(cursor, source.select, source.params, sort=not _in_order(cursor, source))
    source.close(cursor)
    return InsertResult(stored=stored, duplicates=0)


def _is_key_conflict(exc: duckdb.Error) -> bool:
    text = str(exc).lower()
    if isinstance(exc, duckdb.TransactionException):  # the key index, built at commit
        return "constraint violation" in text
    return "event_ids" in text or "primary key" in text or "unique constraint" in text


@dataclass(frozen=True)
class _Source:
    """The file's events as a SELECT of table columns, with ``_row``, the position in the
    file. NDJSON is parsed once, into a temporary table; Parquet is read where it is."""

    select: str
    params: dict[str, Any]
    staged: bool

    @classmethod
    def open(cls, cursor: duckdb.DuckDBPyConnection, file: Path, default_source: str) -> _Source:
        if file.suffix.lower() in PARQUET_SUFFIXES:
            select, params = source_select(cursor, file, default_source, row_numbers=True)
            return cls(select, params, staged=False)
        select, params = source_select(cursor, file, default_source)
        cursor.execute(f"CREATE TEMP TABLE {STAGE} AS {select}", params)
        return cls(f"SELECT *, rowid AS _row FROM {STAGE}", {}, staged=True)  # noqa: S608

    def close(self, cursor: duckdb.DuckDBPyConnection) -> None:
        if self.staged:
            cursor.execute(f"DROP TABLE IF EXISTS {STAGE}")


def _key_ids(cursor: duckdb.DuckDBPyConnection, source: _Source) -> None:
    """Key the file's client ids. Into an empty key table the keys go in unindexed and the
    unique index is built afterwards, at commit: much faster than one key at a time."""
    keys = f"SELECT organization_id, id FROM ({source.select}) WHERE id IS NOT NULL"  # noqa: S608
    empty = cursor.execute("SELECT count(*) = 0 FROM event_ids").fetchone()
    if empty and empty[0]:
        cursor.execute("DROP TABLE event_ids")
        for statement in event_ids_ddl(key=False):
            cursor.execute(statement)
        cursor.execute(f"INSERT INTO event_ids {keys}", source.params)
        cursor.execute(key_index_ddl())
    else:
        cursor.execute(f"INSERT INTO event_ids {keys}", source.params)


def _in_order(cursor: duckdb.DuckDBPyConnection, source: _Source) -> bool:
    """Whether the file is already sorted by (organization_id, timestamp), as exports in
    time order of one organisation are: then the load need not sort."""
    lags = 'lag(organization_id) OVER w AS po, lag("timestamp") OVER w AS pt'
    pairs = f'SELECT organization_id AS o, "timestamp" AS t, {lags} FROM ({source.select})'  # noqa: S608
    pairs += " WINDOW w AS (ORDER BY _row)"
    row = cursor.execute(
        f"SELECT count(*) FROM ({pairs}) WHERE po > o OR (po = o AND pt > t)",  # noqa: S608
        source.params,
    ).fetchone()
    return row is not None and row[0] == 0


def _append(
    cursor: duckdb.DuckDBPyConnection, select: str, params: dict[str, Any], *, sort: bool = True
) -> int:
    columns = ", ".join(f'"{name}"' for name in COLUMNS)
    items = ", ".join("COALESCE(id, uuid())" if name == "id" else f'"{name}"' for name in COLUMNS)
    order = ' ORDER BY organization_id, "timestamp"' if sort else ""
    rows = f"SELECT {items} FROM ({select}){order}"  # noqa: S608
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
    db: duckdb.DuckDBPyConnection, file: Path, default_source: str, *, row_numbers: bool = False
) -> tuple[str, dict[str, Any]]:
    """A SELECT of the file's events as table columns (``id`` null where the file has none),
    and with ``row_numbers`` (Parquet only) a column ``_row`` in the order of the file.

    Invalid values stop the statement with a sentence naming the field.
    """
    params: dict[str, Any] = {"path": str(file), "default_source": default_source}
    if file.suffix.lower() in PARQUET_SUFFIXES:
        reader = f"read_parquet($path, file_row_number := {str(row_numbers).lower()})"
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
    if row_numbers:
        items.append("file_row_number AS _row")
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
