"""Engine, sessions and the one-unit-of-work-per-request dependency."""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from typing import Annotated, Any, Final, TypeVar

import anyio
import anyio.to_thread
from fastapi import Depends, Request
from sqlalchemy import JSON, DateTime, MetaData, create_engine, event, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, DisconnectionError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.types import TypeDecorator

from tallybook.settings import ConfigurationError, Settings

T = TypeVar("T")

RELATIONAL_BACKENDS = ("sqlite", "postgresql")

SQLITE_BUSY_TIMEOUT_MS = 30_000
"""How long a SQLite write waits for another connection's write lock."""

PING_AFTER_IDLE_SECONDS = 1.0
"""A PostgreSQL connection that waited in the pool longer than this is pinged before use
(see :func:`ping_when_idle`)."""

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always returned timezone-aware (SQLite drops offsets)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


JSONType = JSON().with_variant(JSONB(), "postgresql")


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime()}


def on_postgresql(session: Session) -> bool:
    """Whether the relational store is PostgreSQL (row locks, advisory locks) rather than
    SQLite (one writer at a time, so neither is needed)."""
    return session.get_bind().dialect.name == "postgresql"


NEVER_REUSED: Final[dict[str, Any]] = {"sqlite_autoincrement": True}
"""Table options of a table whose integer ids clients keep (v4's ids, users' numbers): on
SQLite its key is ``AUTOINCREMENT``, so the id of a deleted row is never handed out
again (without it SQLite reuses the highest id once that row is gone). PostgreSQL's
sequences never reuse one."""


class IdMixin:
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)


class Database:
    """Owns the engine and hands out sessions; one per process."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        url = settings.resolved_database_url
        if url.startswith("sqlite"):
            settings.ensure_data_dir()
        try:
            if make_url(url).get_backend_name() not in RELATIONAL_BACKENDS:
                raise ArgumentError("not a supported backend")
            if url.startswith("sqlite"):
                self.engine = create_engine(
                    url,
                    connect_args={
                        "check_same_thread": False,
                        "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000,
                    },
                )
                event.listen(self.engine, "connect", _sqlite_pragmas)
            else:
                # LIFO: the connection used last is used next, so the busy ones stay
                # warm and only those idle for a while are pinged (ping_when_idle)
                self.engine = create_engine(url, pool_size=10, max_overflow=10, pool_use_lifo=True)
                ping_when_idle(self.engine, PING_AFTER_IDLE_SECONDS)
        except (ArgumentError, ImportError, ValueError):
            # ArgumentError: not a URL, or an unknown dialect; ImportError: no driver.
            raise ConfigurationError(
                "TALLYBOOK_DATABASE_URL must be unset (SQLite in the data directory) or a "
                "PostgreSQL URL such as postgresql://user:password@host:5432/tallybook."
            ) from None
        self.sessionmaker = sessionmaker(
            self.engine, expire_on_commit=False, info={"database": self}
        )
        self._loop_connection: Connection | None = None
        self._loop_guard = threading.Lock()

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def unit_of_work(self) -> Iterator[Session]:
        """A session committed when the block ends normally and rolled back otherwise."""
        with _committed(self.sessionmaker()) as session:
            yield session

    @contextmanager
    def loop_unit(self) -> Iterator[Session | None]:
        """On SQLite, a unit of work that already holds the database's write lock, taken
        without waiting (``BEGIN IMMEDIATE`` with no busy timeout), on a connection of its
        own kept for the event loop; committed when the block ends normally and rolled
        back otherwise. With the lock held nothing in the unit can wait on another writer
        (reads never wait in WAL mode), so it may run on the event loop, where a report is
        created for a quarter less CPU than through the thread pool (docs/performance.md).
        None when another connection holds the lock (the caller then goes to the thread
        pool and waits there, never on the loop), when another thread is in a loop unit
        (tests run several event loops), and on PostgreSQL, whose statements are network
        round trips and gained nothing on the loop (measured)."""
        if self.dialect != "sqlite" or not self._loop_guard.acquire(blocking=False):
            yield None
            return
        try:
            connection = self._loop_connection
            if connection is not None and (connection.closed or connection.invalidated):
                connection.close()  # back to the pool; the next unit in the thread makes one
                connection = self._loop_connection = None
            if connection is None:  # made by the first unit in the thread pool, not here
                yield None
                return
            raw: Any = connection.connection.dbapi_connection
            if not _write_lock_at_once(raw):
                yield None
                return
            try:
                with _committed(Session(bind=connection, expire_on_commit=False)) as session:
                    session.connection()  # the session owns the transaction from here
                    yield session
            finally:
                if raw.in_transaction:  # a failed COMMIT, or a session never used
                    raw.rollback()
        finally:
            self._loop_guard.release()

    def open_loop_connection(self) -> None:
        """Makes :meth:`loop_unit`'s connection if there is none: off the event loop (a
        checkout from the pool may wait), so in the thread pool at the first unit."""
        if self.dialect != "sqlite" or self._loop_connection is not None:
            return
        with self._loop_guard:
            if self._loop_connection is None:
                self._loop_connection = self.engine.connect()

    def close(self) -> None:
        if self._loop_connection is not None:
            self._loop_connection.close()
        self.engine.dispose()


@contextmanager
def _committed(session: Session) -> Iterator[Session]:
    """``session``, committed when the block ends normally and rolled back otherwise."""
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def _write_lock_at_once(raw: Any) -> bool:
    """Whether a SQLite connection took the write lock without waiting for it."""
    raw.execute("PRAGMA busy_timeout = 0")
    try:
        raw.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        if exc.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY:  # BUSY_RECOVERY too
            raise
        return False
    finally:
        raw.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
    return True


_CUSTOM_PLANS = text("SET LOCAL plan_cache_mode = force_custom_plan")


def plan_for_values(session: Session) -> None:
    """From here to the end of the session's transaction, PostgreSQL plans every statement
    for its values, also once psycopg has prepared it (after 5 runs). For statements over a
    window the caller picks: a generic plan, made for any window, read a year of v4 reads
    15–20 ms slower than the plan for that year. Planning each run costs a fraction of a
    millisecond, which short statements should not pay: set on every connection, it was
    40 % of PostgreSQL's CPU per report created (docs/performance.md). SQLite keeps no
    plans between runs, so nothing is done there."""
    if on_postgresql(session):
        session.execute(_CUSTOM_PLANS)


def one_write_statement(session: Session) -> None:
    """Declares that the rest of the session's unit writes in at most one statement, which
    is atomic by itself: on PostgreSQL each statement then commits as it runs (autocommit),
    and the unit's COMMIT round trip is saved (a tenth of the server's CPU per report
    created: docs/performance.md). Reads before the write each see the data as of their
    own statement, so the write must check again whatever it relies on. Call it before the
    session's first statement; once a transaction has begun it changes nothing. Nothing
    changes on SQLite either: a unit on the event loop holds the write lock from its
    BEGIN IMMEDIATE, and in the thread pool reads run outside a transaction until the
    first write begins one (pysqlite's deferred BEGIN), so they too see each commit."""
    if on_postgresql(session) and not session.in_transaction():
        session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})


def ping_when_idle(engine: Engine, seconds: float) -> None:
    """Pings a pooled connection before use when it has been idle for ``seconds``, and
    replaces it when the ping fails (the pool takes a new connection on DisconnectionError).
    A connection that was idle a long time is the one a server restart, a proxy or a
    firewall has closed. The pool's own pre-ping pings at every checkout: a round trip on
    each request, 2–4 % of report creation's rate (docs/performance.md). One that served a
    request within ``seconds`` is used as it is; a server that went away in that time
    fails the request that finds it, and the pool then replaces all its connections. The
    pool hands out the connection used last (LIFO), so under load the same few stay
    warm and are not pinged."""

    @event.listens_for(engine, "checkin")
    def _idle_from(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("idle_since")
        if since is None or time.monotonic() - since < seconds:
            return  # new, or in use a moment ago
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error:
            raise DisconnectionError("the connection did not answer a ping") from None


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()


def get_database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


async def _request_session(request: Request) -> AsyncIterator[Session]:
    """The request's unit of work. Making a session does no I/O (it connects on its first
    statement, in the thread pool like every route and dependency that uses it), so it is
    made here on the event loop; the commit (or rollback) and close run in one trip to the
    thread pool, shielded from cancellation. A sync generator dependency makes two trips,
    each 0.1-0.5 ms of a request's time on a busy machine."""
    unit = get_database(request).unit_of_work()
    session = unit.__enter__()
    try:
        yield session
    except BaseException as exc:
        await _finish(unit, exc)
        raise
    else:
        if session.in_transaction():
            await _finish(unit, None)
        else:  # committed already (see run_in_unit), or never used: nothing to wait for
            unit.__exit__(None, None, None)


async def run_in_unit(
    session: Session, work: Callable[..., T], *args: Any, one_write: bool = False
) -> T:
    """``work(session, *args)`` and its commit, for an ``async`` route: on SQLite, when
    the write lock is free at once, on the event loop in a unit of its own
    (:meth:`Database.loop_unit`; the request's session is then left unused); otherwise
    with the request's session in one trip to the thread pool. A sync route costs three
    trips: the route, the validation of its answer (FastAPI runs it in the pool too) and
    the commit. If ``work`` raises, nothing is committed and the unit rolls back as usual.
    The commit comes before FastAPI checks the answer against the route's response model,
    so ``work`` should return the answer already built as that model (then the check
    cannot fail). ``one_write``: ``work`` writes in at most one statement and checks in it
    what its reads found (see :func:`one_write_statement`)."""
    database = session.info.get("database")
    if isinstance(database, Database):
        with database.loop_unit() as held:
            if held is not None:
                return work(held, *args)

    def unit() -> T:
        if isinstance(database, Database):
            database.open_loop_connection()
        if one_write:
            one_write_statement(session)
        result = work(session, *args)
        session.commit()
        return result

    return await anyio.to_thread.run_sync(unit)


async def _finish(unit: AbstractContextManager[Session], exc: BaseException | None) -> None:
    with anyio.CancelScope(shield=True):
        # a limiter of its own, as FastAPI does for a dependency's exit: the commit never
        # waits for a free thread, so a full pool cannot hold the connection back
        await anyio.to_thread.run_sync(
            unit.__exit__,
            None if exc is None else type(exc),
            exc,
            None if exc is None else exc.__traceback__,
            limiter=anyio.CapacityLimiter(1),
        )


# scope="function": the commit happens before the response is sent, so a client never sees
# a success for work that then failed to commit.
DBSession = Annotated[Session, Depends(_request_session, scope="function")]
