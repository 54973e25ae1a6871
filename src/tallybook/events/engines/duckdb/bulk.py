"""Bulk loading of NDJSON or Parquet files into the DuckDB event store.

DuckDB's own readers parse the file and the rows go from the reader to the table inside
DuckDB; Python never sees an event. A load is one transaction: the whole file is stored or
nothing is. Events are stored sorted by (organization_id, timestamp), so the per-row-group
min/max (zone maps) of a loaded file let queries skip what is outside their organisation and
interval. Sorting is the dearest step, so a file already in that order (an export of one
organisation in time order) is appended as it is: a Parquet file's order is checked before,
an NDJSON file's after appending (and the load redone, sorting, if it was not in order; a
look at its first megabyte catches most unsorted files before that).

File format: Parquet (``.parquet``), or JSON with one object per line (``.ndjson``,
``.jsonl``; a file with another suffix may also hold one JSON array). Each event has the
fields of the ingestion API plus ``source`` (default ``external``) and optional
``received_at`` (default: the load time); ``timestamp`` defaults to the load time too. An
event whose ``id`` its organisation already stored, or that repeats an ``id`` earlier in the
file, is skipped as a duplicate; an event without an ``id`` is stored with a null one.
Text with a NUL character is refused as the API refuses it: the load stops naming the field,
and nothing of the file is stored.

The statements are assembled from the fixed column list; the path and the default source
are bound parameters.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Final

import duckdb
import orjson

from tallybook.events.engines.base import BulkLoadError
from tallybook.events.engines.duckdb.schema import (
    DDL_TYPES,
    event_ids_ddl,
    key_index_ddl,
    utc_timestamp,
)
from tallybook.events.query.columns import (
    COLUMN_TYPES,
    COLUMNS,
    LIST_COLUMNS,
    OPTIONAL_TEXT_COLUMNS,
    ColumnType,
)
from tallybook.events.query.language import SOURCES
from tallybook.events.records import InsertResult

Writing = Callable[[], AbstractContextManager[duckdb.DuckDBPyConnection]]
"""The store's ``writing``: a transaction holding its write lock, committed on success."""

PARQUET_SUFFIXES: Final = (".parquet", ".pq")
NDJSON_SUFFIXES: Final = (".ndjson", ".jsonl")  # anything else: NDJSON or one JSON array
REQUIRED: Final = ("organization_id", "event_version", "vendor", "category", "action", "label")


def load(writing: Writing, file: Path, default_source: str) -> InsertResult:
    """The DuckDB engine's bulk load; the caller checked the file and default source."""
    try:
        return _load(writing, file, default_source)
    except duckdb.ConstraintException as exc:
        raise BulkLoadError(
            f"{file}: an event lacks a required field ({_first_line(exc)})."
        ) from None
    except (duckdb.ConversionException, duckdb.InvalidInputException, duckdb.IOException) as exc:
        raise BulkLoadError(f"{file}: {_first_line(exc)}") from None


def _load(writing: Writing, file: Path, default_source: str) -> InsertResult:
    sort = _head_out_of_order(file)
    while True:
        try:
            with writing() as cursor:
                return _load_new(cursor, file, default_source, sort=sort)
        except _OutOfOrder:
            sort = True  # rolled back; once more, sorting
        except (duckdb.ConstraintException, duckdb.TransactionException) as exc:
            if not _is_key_conflict(exc):
                raise
            break
    with writing() as cursor:
        return _load_checked(cursor, file, default_source)


class _OutOfOrder(Exception):
    """The rows were appended in file order, and the file was not sorted."""


def _load_new(
    cursor: duckdb.DuckDBPyConnection, file: Path, default_source: str, *, sort: bool
) -> InsertResult:
    """The common case, where no event's id is known or repeated (else a key conflict).

    The events are appended, then their client ids keyed from the appended rows, so the
    file is read once. Into an empty key table the keys go in unindexed and the unique
    index is built at the end, at commit: much faster than adding them to the index one at
    a time. A file already sorted by (organization_id, timestamp), as an export of one
    organisation in time order is, is appended as it is.
    """
    empty_keys = _unindexed_if_empty(cursor)
    if file.suffix.lower() in PARQUET_SUFFIXES:
        stored = _load_parquet(cursor, file, default_source)
    else:
        stored = _load_text(cursor, file, default_source, sort=sort)
    if empty_keys:
        cursor.execute(key_index_ddl())
    return InsertResult(stored=stored, duplicates=0)


def _unindexed_if_empty(cursor: duckdb.DuckDBPyConnection) -> bool:
    empty = cursor.execute("SELECT count(*) = 0 FROM event_ids").fetchone()
    if not (empty and empty[0]):
        return False
    cursor.execute("DROP TABLE event_ids")
    for statement in event_ids_ddl(key=False):
        cursor.execute(statement)
    return True


def _load_parquet(cursor: duckdb.DuckDBPyConnection, file: Path, default_source: str) -> int:
    """Parquet is columnar: reading the order before the events is cheap."""
    select, params = source_select(cursor, file, default_source, row_numbers=True)
    pairs = f'SELECT organization_id, "timestamp", _row AS n FROM ({select})'  # noqa: S608
    first = _next_rowid(cursor)
    stored = _append(cursor, select, params, sort=_out_of_order(cursor, pairs, params))
    _key_appended(cursor, first)
    return stored


def _load_text(
    cursor: duckdb.DuckDBPyConnection, file: Path, default_source: str, *, sort: bool
) -> int:
    """JSON, parsed once: the events, then their keys. Unsorted, the rows keep the file's
    order, which is checked before the keys (an unsorted file is loaded again)."""
    select, params = source_select(cursor, file, default_source)
    first = _next_rowid(cursor)
    stored = _append(cursor, select, params, sort=sort)
    pairs = f'SELECT organization_id, "timestamp", rowid AS n FROM events WHERE rowid >= {first}'  # noqa: S608
    if not sort and _out_of_order(cursor, pairs, {}):
        raise _OutOfOrder
    _key_appended(cursor, first)
    return stored


def _next_rowid(cursor: duckdb.DuckDBPyConnection) -> int:
    """Where the rows appended next begin: they have this rowid or a higher one."""
    row = cursor.execute("SELECT COALESCE(max(rowid) + 1, 0) FROM events").fetchone()
    return int(row[0]) if row else 0


def _key_appended(cursor: duckdb.DuckDBPyConnection, first: int) -> None:
    """Key the client ids of the rows appended from ``first`` on; a known or repeated id
    raises (now, or with an unindexed key table when the index is built)."""
    cursor.execute(
        "INSERT INTO event_ids SELECT organization_id, id FROM events"  # noqa: S608
        f" WHERE rowid >= {first} AND id IS NOT NULL"
    )


def _out_of_order(cursor: duckdb.DuckDBPyConnection, pairs: str, params: dict[str, Any]) -> bool:
    """Whether rows of ``pairs`` (organization_id, timestamp, n) taken in order of ``n``
    are not sorted by (organization_id, timestamp)."""
    lags = 'lag(organization_id) OVER w AS po, lag("timestamp") OVER w AS pt'
    following = f'SELECT organization_id AS o, "timestamp" AS t, {lags} FROM ({pairs})'  # noqa: S608
    row = cursor.execute(
        f"SELECT count(*) FROM ({following} WINDOW w AS (ORDER BY n))"  # noqa: S608
        " WHERE po > o OR (po = o AND pt > t)",
        params,
    ).fetchone()
    return row is None or row[0] > 0


def _head_out_of_order(file: Path, size: int = 1 << 20) -> bool:
    """A look at the first lines of an NDJSON file: whether they are plainly not sorted
    (UTC timestamps of one length compare as text), so the load sorts from the start."""
    if file.suffix.lower() not in NDJSON_SUFFIXES:
        return False
    with file.open("rb") as handle:
        lines = handle.read(size).split(b"\n")[:-1]
    keys = []
    for line in lines:
        try:
            event = orjson.loads(line)
        except orjson.JSONDecodeError:
            return False
        if not isinstance(event, dict):
            return False
        organization, timestamp = event.get("organization_id"), event.get("timestamp")
        if not (isinstance(organization, str) and isinstance(timestamp, str)):
            return False
        keys.append((organization.lower(), len(timestamp), timestamp.endswith("Z"), timestamp))
    if len({key[1:3] for key in keys}) > 1 or not all(key[2] for key in keys):
        return False  # mixed forms: no conclusion
    return keys != sorted(keys)


def _is_key_conflict(exc: duckdb.Error) -> bool:
    text = str(exc).lower()
    if isinstance(exc, duckdb.TransactionException):  # the key index, built at commit
        return "constraint violation" in text
    return "event_ids" in text or "primary key" in text or "unique constraint" in text


def _append(
    cursor: duckdb.DuckDBPyConnection, select: str, params: dict[str, Any], *, sort: bool = True
) -> int:
    columns = ", ".join(f'"{name}"' for name in COLUMNS)
    order = ' ORDER BY organization_id, "timestamp"' if sort else ""
    rows = f"SELECT {columns} FROM ({select}){order}"  # noqa: S608
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
        reader = _json_reader(file, types)
        present = set(COLUMNS)
    items = [f'{_normalised(name, name in present)} AS "{name}"' for name in COLUMNS]
    if row_numbers:
        items.append("file_row_number AS _row")
    return f"SELECT {', '.join(items)} FROM {reader}", params  # noqa: S608


def _json_reader(file: Path, types: dict[str, str]) -> str:
    struct = ", ".join(f"'{name}': '{kind}'" for name, kind in types.items())
    # Sniffing the format ('auto') parses NDJSON about 8 % slower.
    layout = "newline_delimited" if file.suffix.lower() in NDJSON_SUFFIXES else "auto"
    return f"read_json($path, format := '{layout}', columns := {{{struct}}})"


def _normalised(name: str, present: bool) -> str:
    kind = DDL_TYPES[COLUMN_TYPES[name]]
    raw = f'CAST("{name}" AS {kind})' if present else f"CAST(NULL AS {kind})"
    if name in ("timestamp", "received_at"):
        value = utc_timestamp(f'CAST("{name}" AS TIMESTAMPTZ)') if present else "NULL"
        return f"COALESCE({value}, {utc_timestamp('now()')})"
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
    nul = f"{name} may not contain NUL characters"
    if name in LIST_COLUMNS:
        has_nul = f"list_bool_or(list_transform({raw}, lambda v: strpos(v, chr(0)) > 0))"
        return (
            f"CASE WHEN {has_nul} THEN error('{nul}')"
            f" ELSE COALESCE(list_filter({raw}, lambda v: v IS NOT NULL), []) END"
        )
    if COLUMN_TYPES[name] == ColumnType.TEXT:  # as the API: NUL is refused, not stored
        return f"CASE WHEN strpos({raw}, chr(0)) > 0 THEN error('{nul}') ELSE {raw} END"
    if name in REQUIRED or name in OPTIONAL_TEXT_COLUMNS or name == "id":
        return raw
    raise AssertionError(name)


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0][:300]
