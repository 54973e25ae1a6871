"""The embedded event store: one DuckDB file, opened by one process.

FastAPI calls in from a thread pool: each thread reads through a cursor of its own (a DuckDB
connection to the same database), kept for its next reads, and a stream gets a cursor for
itself; writes are serialised by a lock and go through one writer cursor. A commit
writes and fsyncs DuckDB's write-ahead log, so a returned ``insert`` survives a crash.

Idempotency: ``events.id`` is the client's id, null for an event sent without one (stores
made before schema version 2 gave those a random id, which they keep). Only client ids are
keyed, in ``event_ids`` with a unique index on ``(organization_id, id)`` (stores made before
it have a primary key, which works the same; ids are per organisation, so one tenant's ids
never affect another's). A batch is first appended with plain inserts, whose key check is
cheap; only when that hits an existing key is the batch redone with ``ON CONFLICT DO
NOTHING``, which is several times slower and is paid for retries only.

A batch reaches DuckDB as JSON: orjson writes the rows (:class:`StoredEvent` dataclasses or
:data:`EventRow` mappings) before the write lock is taken, and DuckDB's JSON reader appends
them from a private file (in /dev/shm where there is one). That is about six times faster
than binding a Python list per column.

Group commit: a batch is queued, then its thread takes the write lock, and whoever holds it
appends every batch queued so far in one statement and one commit. DuckDB's fixed cost per
statement and commit (about 2.5 ms) is then shared, and so is the wait for the lock, which
under load is mostly a wait for Python's GIL. If the group fails (one batch repeats
another's id, or holds a bad value), nothing of it is stored and each batch is appended on
its own, so every batch is still all or nothing and gets its own answer.
"""

from __future__ import annotations

import os
import tempfile
import threading
import uuid
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Generic, TypeVar

import duckdb
import orjson

from tallybook.events.engines.duckdb.bulk import load
from tallybook.events.engines.duckdb.schema import (
    DDL_TYPES,
    DUCKDB_CONFIG,
    SCHEMA_VERSION,
    UPGRADE_TO_2,
    event_ids_ddl,
    table_ddl,
    utc_timestamp,
)
from tallybook.events.engines.patterns import check_re2
from tallybook.events.engines.runner import QueryRunner
from tallybook.events.query.cells import CsvCell, render_relation_csv
from tallybook.events.query.columns import COLUMN_TYPES, COLUMNS, LIST_COLUMNS, ColumnType
from tallybook.events.query.dialects import DuckDBDialect
from tallybook.events.query.language import EventQuery
from tallybook.events.query.render import RelationPlan, regex_patterns
from tallybook.events.records import EventRow, InsertResult, StoredEvent
from tallybook.kit.tabular import CHUNK_SIZE
from tallybook.settings import ConfigurationError

if TYPE_CHECKING:
    from tallybook.events.engines.base import BulkLoad, PlainInsert
    from tallybook.settings import Settings

URL_PREFIX: Final = "duckdb:///"
"""SQLAlchemy style: ``duckdb:///relative.duckdb``, ``duckdb:////absolute.duckdb``."""
DEFAULT_FILE: Final = "events.duckdb"


def open_store(url: str | None, settings: Settings) -> DuckDBEventStore | None:
    """The store ``TALLYBOOK_EVENTS_URL`` names (unset: a file in the data directory);
    None when the URL is not a DuckDB file URL."""
    memory_limit = settings.duckdb_memory_limit
    if url is None:
        settings.ensure_data_dir()
        return DuckDBEventStore(settings.data_dir / DEFAULT_FILE, memory_limit=memory_limit)
    if url.startswith(URL_PREFIX) and url != URL_PREFIX:
        return DuckDBEventStore(Path(url.removeprefix(URL_PREFIX)), memory_limit=memory_limit)
    return None


class DuckDBEventStore(QueryRunner):
    """The DuckDB engine; offers the plain insert and bulk loading capabilities."""

    dialect = DuckDBDialect()
    typed_rows = True

    def __init__(
        self, path: Path | str, *, threads: int | None = None, memory_limit: str | None = None
    ) -> None:
        location = str(path)
        config = dict(DUCKDB_CONFIG)
        if threads:
            config["threads"] = threads
        if memory_limit:
            config["memory_limit"] = _checked_memory_limit(memory_limit)
        self._memory_limit = memory_limit
        self._limit_lock = threading.Lock()  # one change of the limit at a time
        self.path = location
        try:
            if location != ":memory:":
                Path(location).parent.mkdir(parents=True, exist_ok=True)
            self._db = duckdb.connect(location, config=config)
        except (duckdb.IOException, OSError) as exc:
            # Typically another process has the file: DuckDB allows one writer process.
            raise ConfigurationError(
                f"Cannot open the event store {location} (TALLYBOOK_EVENTS_URL or "
                f"TALLYBOOK_DATA_DIR): {_first_line(exc)}"
            ) from None
        self._write_lock = threading.Lock()
        self._db.execute("SET GLOBAL TimeZone = 'UTC'")
        with self._write_lock:
            for statement in table_ddl():
                self._db.execute(statement)
            if not _has_table(self._db, "event_ids"):
                for statement in event_ids_ddl():
                    self._db.execute(statement)
        self._writer = self._new_cursor()  # used only while holding the write lock
        if self._version() == "1":
            with self.writing() as cursor:
                for statement in UPGRADE_TO_2:
                    cursor.execute(statement)
        self._check_version()
        self._queue: list[_Job[Any]] = []  # batches waiting for the write lock
        self._queue_lock = threading.Lock()
        self._readers: dict[int, duckdb.DuckDBPyConnection] = {}  # by thread id
        self._readers_lock = threading.Lock()

    def _version(self) -> str | None:
        row = self._db.execute(
            "SELECT value FROM event_store_meta WHERE name = 'schema_version'"
        ).fetchone()
        return str(row[0]) if row else None

    def _check_version(self) -> None:
        found = self._version()
        if found != SCHEMA_VERSION:
            found = found or "none"
            raise ConfigurationError(
                f"The event store {self.path} (TALLYBOOK_EVENTS_URL) has schema version "
                f"{found}; this version of Tallybook reads version {SCHEMA_VERSION}."
            )

    def _new_cursor(self) -> duckdb.DuckDBPyConnection:
        cursor = self._db.cursor()
        cursor.execute("SET enable_progress_bar = false")  # a per-connection setting
        return cursor

    @contextmanager
    def cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        cursor = self._new_cursor()
        try:
            yield cursor
        finally:
            cursor.close()

    def _reader(self) -> duckdb.DuckDBPyConnection:
        """This thread's read cursor, kept for its next statements: a new cursor per read
        cost a connection and a setting each time. A thread that is gone leaves its cursor
        behind; it is closed when another thread first reads (an id may come back, and a
        new thread with it takes the cursor over, which nobody else uses)."""
        cursor = self._readers.get(threading.get_ident())
        if cursor is not None:
            return cursor
        with self._readers_lock:
            alive = {thread.ident for thread in threading.enumerate()}
            for ident in [ident for ident in self._readers if ident not in alive]:
                with suppress(duckdb.Error):
                    self._readers.pop(ident).close()
            cursor = self._readers[threading.get_ident()] = self._new_cursor()
        return cursor

    @contextmanager
    def writing(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A transaction holding the write lock: committed on success, else rolled back."""
        with self._write_lock, self._transaction() as cursor:
            yield cursor

    @contextmanager
    def _transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A transaction on the writer cursor; the caller holds the write lock."""
        cursor = self._writer
        try:
            cursor.execute("BEGIN TRANSACTION")
            yield cursor
            cursor.execute("COMMIT")
        except BaseException:
            self._replace_writer()
            raise

    def _statement(self, sql: str, params: dict[str, Any]) -> None:
        """One statement in a transaction of its own; the caller holds the write lock."""
        try:
            self._writer.execute(sql, params)
        except BaseException:
            self._replace_writer()
            raise

    def _replace_writer(self) -> None:
        """After a failed write: closing the cursor rolls back whatever it left open."""
        with suppress(duckdb.Error):
            self._writer.close()
        self._writer = self._new_cursor()

    # -- writes ---------------------------------------------------------------------------

    def insert(self, events: Sequence[StoredEvent]) -> InsertResult:
        return self._insert(list(events), _STORED_KEYS)

    def insert_plain(self, events: Sequence[EventRow]) -> InsertResult:
        return self._insert(list(events), _PLAIN_KEYS)

    def _insert(self, rows: list[Row], keys: _Keys[Row]) -> InsertResult:
        """Queue the batch, then take the write lock: whoever gets it appends every queued
        batch (group commit), so concurrent batches share a statement and a commit."""
        if not rows:
            return InsertResult(stored=0, duplicates=0)
        batch, keyed = _first_of_each_id(rows, keys)
        job = _Job(batch, keys if keyed else None, _json(batch))  # JSON before the lock
        with self._queue_lock:
            self._queue.append(job)
        with self._write_lock:
            try:
                while job.outcome is None:  # earlier batches may fill a group first
                    self._append_queued()
            except BaseException:
                with self._queue_lock:  # not appended later, behind the caller's back
                    if job in self._queue:
                        self._queue.remove(job)
                raise
        if isinstance(job.outcome, BaseException):
            raise job.outcome
        assert job.outcome is not None
        return InsertResult(stored=job.outcome, duplicates=len(rows) - job.outcome)

    def _append_queued(self) -> None:
        with self._queue_lock:
            group = _take(self._queue, GROUP_ROWS)
        if not group:  # the caller's own batch is queued until someone appends it
            raise AssertionError("a queued batch went missing")
        try:
            if len(group) == 1 or not self._append_group(group):
                for job in group:
                    self._append_alone(job)
        except BaseException:
            for job in group:
                if job.outcome is None:
                    job.outcome = RuntimeError("the write was interrupted; try again")
            raise

    def _append_group(self, group: list[_Job[Any]]) -> bool:
        """All batches in one transaction; False (nothing stored) if any of them fails,
        such as one repeating another's client id: then each is appended on its own."""
        with _spool(_joined([job.data for job in group])) as spool:
            params = {"path": str(spool)}
            try:
                if any(job.keys is not None for job in group):
                    with self._transaction() as cursor:
                        cursor.execute(_KEYS_SQL, params)
                        cursor.execute(_APPEND_SQL, params)
                else:
                    self._statement(_APPEND_SQL, params)
            except duckdb.Error:
                return False
        for job in group:
            job.outcome = len(job.rows)
        return True

    def _append_alone(self, job: _Job[Any]) -> None:
        try:
            with _spool(job.data) as spool:
                if job.keys is None:
                    self._statement(_APPEND_SQL, {"path": str(spool)})
                    job.outcome = len(job.rows)
                    return
                try:
                    with self._transaction() as cursor:
                        job.outcome = _append_keyed(cursor, job, spool, checked=False)
                except duckdb.ConstraintException:
                    with self._transaction() as cursor:
                        job.outcome = _append_keyed(cursor, job, spool, checked=True)
        except Exception as exc:  # the batch's own failure, raised to its caller
            job.outcome = exc

    # -- reads ----------------------------------------------------------------------------

    def execute(self, sql: str, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        return self._reader().execute(sql, params).fetchall()

    def execute_batches(
        self, sql: str, params: Mapping[str, Any], size: int
    ) -> Iterator[list[tuple[Any, ...]]]:
        with self.cursor() as cursor:
            cursor.execute(sql, params)
            while rows := cursor.fetchmany(size):
                yield rows

    def relation_csv(
        self, plan: RelationPlan, cells: Sequence[CsvCell], *, chunk_size: int = CHUNK_SIZE
    ) -> Generator[bytes, None, int]:
        """DuckDB writes the CSV: the relation's cells as text in SQL
        (``DuckDBDialect.csv_cell``), the file by ``COPY … TO`` a private temporary file,
        which is then read back in chunks and removed. Its quoting is the csv module's
        (``COMMENT ''``: otherwise DuckDB also quotes text holding ``#``). One column takes
        the Python path: DuckDB writes a lone empty cell as an empty line, Python as
        ``""``.

        The table blocks the ``COPY`` brought into DuckDB's cache are given back after it
        (:meth:`_give_back_cache`): a download reads all columns of most of the blocks
        its interval covers, which the cache would otherwise keep (350 MB for a million
        rows of a 10 M-event table), and it reads each block once."""
        if len(cells) < 2:
            return (yield from super().relation_csv(plan, cells, chunk_size=chunk_size))
        rendered = render_relation_csv(plan, self.dialect, cells)
        with _scratch(".csv") as path:
            params = {**rendered.params, _CSV_PATH: str(path)}
            with self.cursor() as cursor:
                _used, cached = _cache_bytes(cursor)
                found = cursor.execute(_copy_csv(rendered.sql), params).fetchone()
                self._give_back_cache(cursor, cached)
            count = int(found[0]) if found else 0
            with path.open("rb") as file:
                while chunk := file.read(chunk_size):
                    yield chunk
        return count

    def _give_back_cache(self, cursor: duckdb.DuckDBPyConnection, cached: int) -> None:
        """Evict what DuckDB's cache of table blocks grew by since it held ``cached``
        bytes. DuckDB has no per-statement cache setting and evicts only to keep under
        its ``memory_limit``, so the limit is lowered by the growth and set back at once
        (about 0.3 ms; DuckDB returns the freed memory to the system as it lowers it).
        The cache is then as large as before, not emptied: blocks leave in least recently
        used order, so it keeps the newest. A query that allocates in that instant with
        nothing left to evict gets DuckDB's out-of-memory error; lowering by what the
        cache grew leaves what was in use at the time."""
        used, now = _cache_bytes(cursor)
        grown = now - cached
        if grown <= 0:
            return
        with self._limit_lock:
            try:
                cursor.execute(f"SET GLOBAL memory_limit = '{max(used - grown, 1 << 20)}B'")
            except duckdb.OutOfMemoryException:
                pass  # blocks in use by another query: it evicted what it could
            finally:
                if self._memory_limit:
                    configured = self._memory_limit.replace("'", "''")
                    cursor.execute(f"SET GLOBAL memory_limit = '{configured}'")
                else:
                    cursor.execute("RESET GLOBAL memory_limit")

    def check_query(self, query: EventQuery) -> None:
        for pattern in regex_patterns(query.filters):
            check_re2(pattern)

    def load_file(self, file: Path, *, default_source: str) -> InsertResult:
        return load(self.writing, file, default_source)

    def ping(self) -> None:
        with self.cursor() as cursor:
            cursor.execute("SELECT 1").fetchall()

    def close(self) -> None:
        with self._readers_lock:
            for cursor in [self._writer, *self._readers.values()]:
                with suppress(duckdb.Error):
                    cursor.close()
            self._readers.clear()
        self._db.close()


@contextmanager
def _spool(data: bytes) -> Iterator[Path]:
    """A file holding ``data`` for DuckDB's JSON reader (:func:`_scratch`), in shared
    memory where the system has it."""
    shm = Path("/dev/shm")  # noqa: S108 - mkstemp makes a private file in it
    parent = shm if shm.is_dir() and os.access(shm, os.W_OK) else None
    with _scratch(".json", parent) as path:
        path.write_bytes(data)
        yield path


def _checked_memory_limit(value: str) -> str:
    """``TALLYBOOK_DUCKDB_MEMORY_LIMIT`` as DuckDB reads it, or a ConfigurationError."""
    try:
        duckdb.connect(":memory:", config={**DUCKDB_CONFIG, "memory_limit": value}).close()
    except duckdb.Error as exc:
        raise ConfigurationError(
            "TALLYBOOK_DUCKDB_MEMORY_LIMIT must be an amount such as 512MB or 2GB, "
            f"or a share of the RAM such as 25% ({_first_line(exc)})."
        ) from None
    return value


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


@contextmanager
def _scratch(suffix: str, directory: Path | None = None) -> Iterator[Path]:
    """A private temporary file's path (mode 600, made with ``O_EXCL``) for DuckDB to read
    or write, removed afterwards."""
    handle, name = tempfile.mkstemp(prefix="tallybook-", suffix=suffix, dir=directory)
    os.close(handle)
    path = Path(name)
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)


_CSV_PATH: Final = "csv_path"  # not p<n>, the renderer's parameters
_CACHE_SQL: Final = (
    "SELECT coalesce(sum(memory_usage_bytes), 0), "
    "coalesce(sum(memory_usage_bytes) FILTER (WHERE tag = 'BASE_TABLE'), 0) FROM duckdb_memory()"
)


def _cache_bytes(cursor: duckdb.DuckDBPyConnection) -> tuple[int, int]:
    """DuckDB's memory in use, and how much of it is its cache of table blocks."""
    row = cursor.execute(_CACHE_SQL).fetchone()
    return (int(row[0]), int(row[1])) if row else (0, 0)


def _copy_csv(select: str) -> str:
    """RFC 4180 as Python's csv module writes it: ``\\r\\n``, quotes doubled, a cell
    quoted when it holds a comma, a quote or a line break; null cells (and only they)
    empty."""
    return (
        f"COPY ({select}) TO ${_CSV_PATH} (FORMAT csv, HEADER false, DELIMITER ',', "
        "QUOTE '\"', ESCAPE '\"', NULL '', COMMENT '', NEW_LINE '\\r\\n')"
    )


def _has_table(db: duckdb.DuckDBPyConnection, name: str) -> bool:
    found = db.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = $name AND NOT temporary",
        {"name": name},
    ).fetchone()
    return bool(found and found[0])


Row = TypeVar("Row")
Key = tuple[Any, Any]


@dataclass(frozen=True, slots=True)
class _Keys(Generic[Row]):
    """How to read a row's ``(organization_id, id)``: ``of`` for telling rows of one batch
    apart (None: no client id), ``as_stored`` as the UUIDs DuckDB returns."""

    of: Callable[[Row], Key | None]
    as_stored: Callable[[Row], tuple[uuid.UUID, uuid.UUID]]


def _stored_key(event: StoredEvent) -> tuple[uuid.UUID, uuid.UUID] | None:
    return None if event.id is None else (event.organization_id, event.id)


def _stored_uuids(event: StoredEvent) -> tuple[uuid.UUID, uuid.UUID]:
    assert event.id is not None
    return event.organization_id, event.id


def _plain_key(event: Mapping[str, Any]) -> Key | None:
    key = event.get("id")  # canonical text, so equal ids are equal strings
    return None if key is None else (event["organization_id"], key)


def _plain_uuids(event: Mapping[str, Any]) -> tuple[uuid.UUID, uuid.UUID]:
    return uuid.UUID(event["organization_id"]), uuid.UUID(event["id"])


_STORED_KEYS: Final = _Keys(_stored_key, _stored_uuids)
_PLAIN_KEYS: Final = _Keys(_plain_key, _plain_uuids)


def _first_of_each_id(rows: list[Row], keys: _Keys[Row]) -> tuple[list[Row], bool]:
    """The rows without repeats of an earlier row's id, and whether any row has an id."""
    seen: set[Key] = set()
    kept = []
    for row in rows:
        key = keys.of(row)
        if key is not None:
            if key in seen:
                continue
            seen.add(key)
        kept.append(row)
    return kept, bool(seen)


@dataclass(eq=False)
class _Job(Generic[Row]):
    """A batch waiting for the write lock: its rows (first of each id), how to read their
    client ids (None when none has one), and the rows as a JSON array."""

    rows: list[Row]
    keys: _Keys[Row] | None
    data: bytes
    outcome: int | Exception | None = None  # events stored, or why none were


def _take(queue: list[_Job[Any]], rows: int) -> list[_Job[Any]]:
    """The first queued jobs, at least one, up to about ``rows`` rows; removed from the
    queue."""
    count = taken = 0
    while taken < len(queue) and (taken == 0 or count + len(queue[taken].rows) <= rows):
        count += len(queue[taken].rows)
        taken += 1
    group = queue[:taken]
    del queue[:taken]
    return group


def _append_keyed(
    cursor: duckdb.DuckDBPyConnection, job: _Job[Row], spool: Path, *, checked: bool
) -> int:
    """Key the batch's client ids, then append the events whose id was new."""
    assert job.keys is not None
    rows, params = job.rows, {"path": str(spool)}
    if checked:
        new = set(cursor.execute(_NEW_KEYS_SQL, params).fetchall())
        stored, of = job.keys.as_stored, job.keys.of
        rows = [row for row in rows if of(row) is None or stored(row) in new]
        spool.write_bytes(_json(rows))
    else:
        cursor.execute(_KEYS_SQL, params)
    if rows:
        cursor.execute(_APPEND_SQL, params)
    return len(rows)


def _json(rows: Sequence[Any]) -> bytes:
    try:
        return orjson.dumps(rows)
    except orjson.JSONEncodeError:
        raise ValueError("an event has text that is not valid Unicode") from None


def _joined(arrays: list[bytes]) -> bytes:
    """Non-empty JSON arrays as one."""
    if len(arrays) == 1:
        return arrays[0]
    return b"[" + b",".join(memoryview(array)[1:-1] for array in arrays) + b"]"


def _reader(types: dict[str, str]) -> str:
    struct = ", ".join(f"'{name}': '{kind}'" for name, kind in types.items())
    return f"read_json($path, format := 'array', columns := {{{struct}}})"


def _append_sql() -> str:
    """Rows of a spool file into the table: orjson's JSON of :class:`StoredEvent`
    dataclasses or of :data:`EventRow` mappings, which may leave fields out."""
    types = {name: DDL_TYPES[kind] for name, kind in COLUMN_TYPES.items()}
    types["timestamp"] = types["received_at"] = "TIMESTAMPTZ"
    defaults = {
        "timestamp": utc_timestamp('"received_at"'),
        "value": "1.0",
        **dict.fromkeys(LIST_COLUMNS, f"CAST([] AS {DDL_TYPES[ColumnType.TEXT_LIST]})"),
    }

    def item(name: str) -> str:
        value = utc_timestamp(f'"{name}"') if types[name] == "TIMESTAMPTZ" else f'"{name}"'
        return f"COALESCE({value}, {defaults[name]})" if name in defaults else value

    names = ", ".join(f'"{name}"' for name in COLUMNS)
    items = ", ".join(item(name) for name in COLUMNS)
    return f"INSERT INTO events ({names}) SELECT {items} FROM {_reader(types)}"  # noqa: S608


_KEYS_SQL: Final = (
    "INSERT INTO event_ids SELECT organization_id, id"  # noqa: S608 - fixed text
    f" FROM {_reader({'organization_id': 'UUID', 'id': 'UUID'})} WHERE id IS NOT NULL"
)
_NEW_KEYS_SQL: Final = f"{_KEYS_SQL} ON CONFLICT DO NOTHING RETURNING organization_id, id"
_APPEND_SQL: Final = _append_sql()
GROUP_ROWS: Final = 20_000
"""Batches waiting together are appended together up to about this many events."""


if TYPE_CHECKING:

    def _offers_its_capabilities(store: DuckDBEventStore) -> tuple[PlainInsert, BulkLoad]:
        return store, store  # mypy checks the optional capabilities' signatures
