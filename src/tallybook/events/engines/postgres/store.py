"""The PostgreSQL event store: for installations that run several processes, or everything
on one PostgreSQL (``TALLYBOOK_EVENTS_URL`` may name the relational store's own database).

Connections come from a psycopg pool, each with the session time zone UTC, so timestamps
are stored and compared as UTC like in every engine. A batch is one transaction: its client
ids are claimed in ``event_ids`` (``INSERT … ON CONFLICT DO NOTHING RETURNING``, in key
order so that concurrent batches lock keys in the same order and cannot deadlock), then the
events whose id was new, or that have none, are sent by ``COPY``. A concurrent batch with
the same id waits on the key until the first commits or rolls back, so a re-send is skipped
exactly once whatever the number of writers. Reads of many rows go through a server-side
cursor, so a large answer is never held whole.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool, PoolTimeout

from tallybook.events.engines.patterns import check_re2
from tallybook.events.engines.postgres.schema import (
    PARTITIONS_LOCK,
    SCHEMA_VERSION,
    existing_partitions_sql,
    month_of,
    partition_ddl,
    partition_name,
    table_ddl,
)
from tallybook.events.engines.rows import (
    ID,
    ORG,
    TIMESTAMP,
    Row,
    first_of_each_id,
    plain_row,
    stored_row,
)
from tallybook.events.engines.runner import QueryRunner
from tallybook.events.query.columns import COLUMNS
from tallybook.events.query.dialects import PostgresDialect
from tallybook.events.query.language import EventQuery
from tallybook.events.query.render import regex_patterns
from tallybook.events.records import EventRow, InsertResult, StoredEvent
from tallybook.settings import ConfigurationError

if TYPE_CHECKING:
    from tallybook.events.engines.base import PlainInsert
    from tallybook.settings import Settings

SCHEMES: Final = frozenset({"postgresql", "postgres", "postgresql+psycopg"})
POOL_SIZE: Final = 10
CURSOR_ROWS: Final = 10_000


def open_store(url: str | None, settings: Settings) -> PostgresEventStore | None:
    """The store of a ``postgresql://`` URL; None for any other URL."""
    del settings  # everything is in the URL
    if url is None or url.split("://", 1)[0] not in SCHEMES:
        return None
    return PostgresEventStore(url)


class PostgresEventStore(QueryRunner):
    """The PostgreSQL engine; offers the plain insert capability."""

    dialect = PostgresDialect()

    def __init__(self, url: str, *, pool_size: int = POOL_SIZE) -> None:
        conninfo = _conninfo(url)
        self._pool = ConnectionPool(
            conninfo,
            min_size=1,
            max_size=pool_size,
            kwargs={"options": "-c timezone=UTC"},
            open=False,
            name="tallybook-events",
        )
        try:
            self._pool.open(wait=True, timeout=10)
        except PoolTimeout:
            self._pool.close()
            raise ConfigurationError(
                "Cannot connect to the event store (TALLYBOOK_EVENTS_URL): the PostgreSQL "
                "server did not answer, or refused the user or database."
            ) from None
        self._partitions: set[str] = set()
        self._partitions_lock = threading.Lock()
        with self._pool.connection() as conn:
            conn.execute("SELECT pg_advisory_lock(%s)", (PARTITIONS_LOCK,))
            try:
                for statement in table_ddl():
                    conn.execute(statement)  # fixed text
                conn.commit()
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (PARTITIONS_LOCK,))
                conn.commit()
            version = conn.execute(
                "SELECT value FROM event_store_meta WHERE name = 'schema_version'"
            ).fetchone()
            self._partitions.update(row[0] for row in conn.execute(existing_partitions_sql()))
        if version is None or version[0] != SCHEMA_VERSION:
            self._pool.close()
            raise ConfigurationError(
                f"The event store (TALLYBOOK_EVENTS_URL) has schema version "
                f"{version[0] if version else 'none'}; this version of Tallybook reads "
                f"version {SCHEMA_VERSION}."
            )

    # -- writes ---------------------------------------------------------------------------

    def insert(self, events: Sequence[StoredEvent]) -> InsertResult:
        return self._insert([stored_row(event, _naive_utc) for event in events])

    def insert_plain(self, events: Sequence[EventRow]) -> InsertResult:
        return self._insert([plain_row(event, _naive_utc) for event in events])

    def _insert(self, rows: list[Row]) -> InsertResult:
        if not rows:
            return InsertResult(stored=0, duplicates=0)
        kept, keys = first_of_each_id(rows)
        self._ensure_partitions({month_of(row[TIMESTAMP]) for row in kept})
        with self._pool.connection() as conn, conn.transaction():
            if keys:
                claimed = conn.execute(_CLAIM_SQL, ([k[0] for k in keys], [k[1] for k in keys]))
                new = {(row[0], row[1]) for row in claimed}
                kept = [row for row in kept if row[ID] is None or (row[ORG], row[ID]) in new]
            with conn.cursor() as cursor, cursor.copy(_COPY_SQL) as copy:
                for row in kept:
                    copy.write_row(row)
        return InsertResult(stored=len(kept), duplicates=len(rows) - len(kept))

    def _ensure_partitions(self, months: set[tuple[int, int]]) -> None:
        """Make the partitions of ``months`` that do not exist yet, each in its own short
        transaction under an advisory lock (other processes may be making them too)."""
        missing = sorted(m for m in months if partition_name(m) not in self._partitions)
        if not missing:
            return
        with self._partitions_lock, self._pool.connection() as conn:
            for month in missing:
                if partition_name(month) in self._partitions:
                    continue
                with conn.transaction():
                    conn.execute("SELECT pg_advisory_xact_lock(%s)", (PARTITIONS_LOCK,))
                    conn.execute(partition_ddl(month))  # made here
                self._partitions.add(partition_name(month))

    # -- reads ----------------------------------------------------------------------------

    def execute(self, sql: str, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        with self._pool.connection() as conn:
            return conn.execute(sql, params).fetchall()  # rendered by events.query

    def execute_batches(
        self, sql: str, params: Mapping[str, Any], size: int
    ) -> Iterator[list[tuple[Any, ...]]]:
        with (
            self._pool.connection() as conn,
            conn.transaction(),
            conn.cursor(name=f"tallybook_{uuid.uuid4().hex}") as cursor,
        ):
            cursor.itersize = size
            cursor.execute(sql, params)  # rendered by events.query
            while rows := cursor.fetchmany(size):
                yield rows

    def check_query(self, query: EventQuery) -> None:
        """Patterns are RE2 in every engine (DESIGN §4): one PostgreSQL would take, such as
        a look-around, is refused as the embedded engine refuses it."""
        for pattern in regex_patterns(query.filters):
            check_re2(pattern)

    def ping(self) -> None:
        with self._pool.connection() as conn:
            conn.execute("SELECT 1").fetchall()

    def close(self) -> None:
        self._pool.close()


_COPY_SQL: Final = sql.SQL("COPY events ({}) FROM STDIN").format(
    sql.SQL(", ").join(sql.Identifier(name) for name in COLUMNS)
)
_CLAIM_SQL: Final = (
    "INSERT INTO event_ids (organization_id, id)"
    " SELECT o, i FROM unnest(%s::uuid[], %s::uuid[]) AS k(o, i) ORDER BY o, i"
    " ON CONFLICT DO NOTHING RETURNING organization_id, id"
)


def _conninfo(url: str) -> str:
    """libpq's form of a ``postgresql://`` URL (SQLAlchemy's ``+psycopg`` spelling too),
    checked by connecting once: a clear sentence, without the URL (it may hold a password),
    instead of a pool retrying in the background."""
    conninfo = "postgresql://" + url.split("://", 1)[1]
    try:
        psycopg.connect(conninfo, connect_timeout=10).close()
    except psycopg.Error as exc:
        reason = type(exc).__name__
        if isinstance(exc, psycopg.OperationalError):
            reason = "the server did not answer, or refused the user, password or database"
        raise ConfigurationError(
            f"Cannot connect to the event store (TALLYBOOK_EVENTS_URL): {reason}."
        ) from None
    return conninfo


def _naive_utc(instant: datetime) -> datetime:
    return instant.astimezone(UTC).replace(tzinfo=None) if instant.tzinfo else instant


if TYPE_CHECKING:

    def _offers_its_capabilities(store: PostgresEventStore) -> PlainInsert:
        return store  # mypy checks the optional capability's signature
