"""The embedded event store: one DuckDB file, opened by one process.

FastAPI calls in from a thread pool: each call gets its own cursor (a DuckDB connection to
the same database) and writes are serialised by a lock. A commit writes and fsyncs
DuckDB's write-ahead log, so a returned ``insert`` survives a crash.

Idempotency: only client-supplied ids are keyed, in ``event_ids`` with a primary key on
``(organization_id, id)`` (ids are per organisation, so one tenant's ids never affect
another's). A batch is first appended with plain inserts, whose key check is cheap; only
when that hits an existing key is the batch redone with ``ON CONFLICT DO NOTHING``, which is
several times slower and is paid for retries only.

A batch reaches DuckDB as JSON: orjson writes the dataclasses to a file in a private
directory made for the call (in /dev/shm where there is one) and DuckDB's JSON reader
appends it. That is about six times faster than binding a Python list per column.
"""

from __future__ import annotations

import os
import tempfile
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import duckdb
import orjson

from tallybook.events.columns import COLUMN_TYPES, COLUMNS, NULLABLE_COLUMNS
from tallybook.events.query import EventQuery, Interval
from tallybook.events.sql import (
    FetchPlan,
    Rendered,
    regex_patterns,
    render_fetch,
    render_value,
)
from tallybook.events.store import FetchResult, InsertResult, StoredEvent
from tallybook.kit.errors import invalid

SCHEMA_VERSION: Final = "1"  # also in table_ddl()
DDL_TYPES: Final = {
    "uuid": "UUID",
    "timestamp": "TIMESTAMP",
    "text": "VARCHAR",
    "int": "INTEGER",
    "double": "DOUBLE",
    "text[]": "VARCHAR[]",
}
# Extensions the store uses (json, parquet, icu) are linked into the wheel; never download.
DUCKDB_CONFIG: Final[dict[str, str | bool | int | float | list[str]]] = {
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
}


def table_ddl() -> list[str]:
    columns = ",\n  ".join(
        f'"{name}" {DDL_TYPES[kind]}{"" if name in NULLABLE_COLUMNS else " NOT NULL"}'
        for name, kind in COLUMN_TYPES.items()
    )
    return [
        f"CREATE TABLE IF NOT EXISTS events (\n  {columns}\n)",
        "CREATE TABLE IF NOT EXISTS event_ids ("
        " organization_id UUID NOT NULL, id UUID NOT NULL, PRIMARY KEY (organization_id, id))",
        "CREATE TABLE IF NOT EXISTS event_store_meta"
        " (name VARCHAR PRIMARY KEY, value VARCHAR NOT NULL)",
        "INSERT INTO event_store_meta VALUES ('schema_version', '1') ON CONFLICT DO NOTHING",
    ]


class DuckDBEventStore:
    dialect: Final = "duckdb"

    def __init__(self, path: Path | str, *, threads: int | None = None) -> None:
        location = str(path)
        if location != ":memory:":
            Path(location).parent.mkdir(parents=True, exist_ok=True)
        config = dict(DUCKDB_CONFIG)
        if threads:
            config["threads"] = threads
        self.path = location
        try:
            self._db = duckdb.connect(location, config=config)
        except duckdb.IOException as exc:
            # Typically another process has the file: DuckDB allows one writer process.
            first_line = str(exc).strip().splitlines()[0]
            raise RuntimeError(f"Cannot open the event store {location}: {first_line}") from None
        self._write_lock = threading.Lock()
        self._db.execute("SET GLOBAL TimeZone = 'UTC'")
        with self._write_lock:
            for statement in table_ddl():
                self._db.execute(statement)
        self._check_version()

    def _check_version(self) -> None:
        row = self._db.execute(
            "SELECT value FROM event_store_meta WHERE name = 'schema_version'"
        ).fetchone()
        if row is None or row[0] != SCHEMA_VERSION:
            found = row[0] if row else "none"
            raise RuntimeError(
                f"The event store {self.path} has schema version {found}; this version of "
                f"Tallybook reads version {SCHEMA_VERSION}."
            )

    @contextmanager
    def cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        cursor = self._db.cursor()
        cursor.execute("SET enable_progress_bar = false")  # a per-connection setting
        try:
            yield cursor
        finally:
            cursor.close()

    @contextmanager
    def writing(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A transaction holding the write lock: committed on success, else rolled back."""
        with self._write_lock, self.cursor() as cursor:
            cursor.execute("BEGIN TRANSACTION")
            try:
                yield cursor
            except BaseException:
                with suppress(duckdb.Error):  # closing the cursor rolls back anyway
                    cursor.execute("ROLLBACK")
                raise
            cursor.execute("COMMIT")

    # -- writes ---------------------------------------------------------------------------

    def insert(self, events: Sequence[StoredEvent]) -> InsertResult:
        if not events:
            return InsertResult(stored=0, duplicates=0)
        batch = _first_of_each_id(events)
        with _spool() as spool:
            try:
                with self.writing() as cursor:
                    stored = _append(cursor, batch, spool, checked=False)
            except duckdb.ConstraintException:
                with self.writing() as cursor:
                    stored = _append(cursor, batch, spool, checked=True)
        return InsertResult(stored=stored, duplicates=len(events) - stored)

    # -- reads ----------------------------------------------------------------------------

    def fetch(
        self, organization_id: uuid.UUID, query: EventQuery, interval: Interval, time_zone: str
    ) -> FetchResult:
        plan = FetchPlan.build(organization_id, query, interval.start, interval.end, time_zone)
        rows = self._read(render_fetch(plan, self.dialect), query)
        return plan.result(rows, typed=True)

    def value(
        self,
        organization_id: uuid.UUID,
        query: EventQuery,
        start: datetime,
        end: datetime,
        field: str,
    ) -> float | None:
        rendered = render_value(organization_id, query, start, end, field, self.dialect)
        count, result = self._read(rendered, query)[0]
        if not count or result is None:
            return None
        return float(result)

    def _read(self, rendered: Rendered, query: EventQuery) -> list[tuple[Any, ...]]:
        with self.cursor() as cursor:
            for pattern in regex_patterns(query.filters):
                _check_regex(cursor, pattern)
            return cursor.execute(rendered.sql, rendered.params).fetchall()

    def ping(self) -> None:
        with self.cursor() as cursor:
            cursor.execute("SELECT 1").fetchall()

    def close(self) -> None:
        self._db.close()


@contextmanager
def _spool() -> Iterator[Path]:
    """A file for one batch, for DuckDB's JSON reader: in a private directory (mode 700)
    made for this call, in shared memory where the system has it, removed afterwards."""
    shm = Path("/dev/shm")  # noqa: S108 - TemporaryDirectory makes a private directory in it
    parent = shm if shm.is_dir() and os.access(shm, os.W_OK) else None
    with tempfile.TemporaryDirectory(prefix="tallybook-events-", dir=parent) as folder:
        yield Path(folder) / "batch.json"


def _check_regex(cursor: duckdb.DuckDBPyConnection, pattern: str) -> None:
    """DuckDB uses RE2, which lacks a few things Python's ``re`` accepts."""
    try:
        cursor.execute("SELECT regexp_matches('', $pattern)", {"pattern": pattern}).fetchall()
    except duckdb.Error:
        raise invalid(
            ["filters"],
            "A regex pattern uses a feature the event store does not support "
            "(RE2 syntax: no look-around or back-references).",
        ) from None


def _first_of_each_id(events: Sequence[StoredEvent]) -> list[StoredEvent]:
    seen: set[tuple[uuid.UUID, uuid.UUID]] = set()
    kept = []
    for event in events:
        if event.id is not None:
            key = (event.organization_id, event.id)
            if key in seen:
                continue
            seen.add(key)
        kept.append(event)
    return kept


def _append(
    cursor: duckdb.DuckDBPyConnection, batch: list[StoredEvent], spool: Path, *, checked: bool
) -> int:
    """Key the batch's client ids, then append the events whose id was new."""
    keyed = [e for e in batch if e.id is not None]
    if keyed:
        organizations, ids = [e.organization_id for e in keyed], [e.id for e in keyed]
        if checked:
            new = set(
                cursor.execute(
                    "INSERT INTO event_ids SELECT UNNEST($1), UNNEST($2)"
                    " ON CONFLICT DO NOTHING RETURNING organization_id, id",
                    [organizations, ids],
                ).fetchall()
            )
            batch = [e for e in batch if e.id is None or (e.organization_id, e.id) in new]
        else:
            cursor.execute(
                "INSERT INTO event_ids SELECT UNNEST($1), UNNEST($2)", [organizations, ids]
            )
    if batch:
        try:
            spool.write_bytes(orjson.dumps(batch))
        except orjson.JSONEncodeError:
            raise ValueError("an event has text that is not valid Unicode") from None
        cursor.execute(_APPEND_SQL, {"path": str(spool)})
    return len(batch)


def _append_sql() -> str:
    """Rows of the spool file (orjson's JSON of the StoredEvent dataclasses) into the table."""
    types = {name: DDL_TYPES[kind] for name, kind in COLUMN_TYPES.items()}
    types["timestamp"] = types["received_at"] = "TIMESTAMPTZ"
    struct = ", ".join(f"'{name}': '{kind}'" for name, kind in types.items())
    items = ", ".join(
        "COALESCE(id, uuid())"
        if name == "id"
        else f'CAST("{name}" AS TIMESTAMP)'
        if name in ("timestamp", "received_at")
        else f'"{name}"'
        for name in COLUMNS
    )
    names = ", ".join(f'"{name}"' for name in COLUMNS)
    reader = f"read_json($path, format := 'array', columns := {{{struct}}})"
    return f"INSERT INTO events ({names}) SELECT {items} FROM {reader}"  # noqa: S608


_APPEND_SQL: Final = _append_sql()
