"""The relational store's connections (kit.db.Database)."""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from typing import TypeVar

import anyio
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from tallybook.kit.db import (
    Database,
    one_write_statement,
    ping_when_idle,
    plan_for_values,
    run_in_unit,
)

T = TypeVar("T")


def _plans(session: Session, comparison: str) -> list[tuple[int, int]]:
    """Runs a statement 12 times and answers its (generic, custom) plan counts."""
    sql = f"SELECT count(*) FROM users WHERE organization_id = :org AND number {comparison} :n"
    for n in range(12):
        session.execute(text(sql), {"org": uuid.uuid4(), "n": n}).scalar()
    found = session.execute(
        text("SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement = :s"),
        {"s": sql.replace(":org", "$1").replace(":n", "$2")},
    ).all()
    assert found, "expected psycopg to have prepared the statement"
    return [(int(generic), int(custom)) for generic, custom in found]


def test_postgresql_plans_for_values_only_where_asked(database: Database) -> None:
    """psycopg prepares a statement after 5 runs. After ``plan_for_values`` PostgreSQL
    still plans it for the values of each run (a year of reads or a day of them), never
    with a generic plan; elsewhere, and after the transaction, it keeps its default, so
    short statements are not planned again at every run."""
    if database.dialect != "postgresql":
        pytest.skip("SQLite has no prepared plans to choose between")
    with database.engine.connect() as connection, Session(bind=connection) as session:
        backend = session.execute(text("SELECT pg_backend_pid()")).scalar()
        assert session.execute(text("SHOW plan_cache_mode")).scalar() == "auto"
        plan_for_values(session)
        assert session.execute(text("SHOW plan_cache_mode")).scalar() == "force_custom_plan"
        assert all(generic == 0 and custom > 0 for generic, custom in _plans(session, ">"))
        session.commit()
        # the same connection, the transaction over: the setting went with it
        assert session.execute(text("SELECT pg_backend_pid()")).scalar() == backend
        assert session.execute(text("SHOW plan_cache_mode")).scalar() == "auto"
        assert any(generic > 0 for generic, _custom in _plans(session, ">="))


def test_one_write_statement_commits_each_statement_on_postgresql_only_before_a_transaction(
    database: Database,
) -> None:
    """Declared first, each statement commits as it runs on PostgreSQL (no transaction
    stays open); declared after a statement, it changes nothing; SQLite always keeps its
    transaction. The connection goes back to the pool as it came."""
    postgresql = database.dialect == "postgresql"

    def autocommit(session: Session) -> bool:
        driver = session.connection().connection.driver_connection
        # is True: sqlite3 has none before Python 3.12, then -1 (legacy transactions)
        return getattr(driver, "autocommit", None) is True

    with Session(database.engine) as session:
        one_write_statement(session)
        session.execute(text("SELECT 1"))
        assert autocommit(session) is postgresql
        used = session.connection().connection.driver_connection
        session.commit()
    assert getattr(used, "autocommit", None) is not True  # reset as it went back to the pool
    with Session(database.engine) as session:
        session.execute(text("SELECT 1"))
        one_write_statement(session)
        assert not autocommit(session)
        assert session.in_transaction()


@pytest.mark.parametrize(
    ("idle_seconds", "killed", "outcome"),
    [
        (0.0, False, "the same"),  # pinged, alive: kept
        (0.0, True, "replaced"),  # pinged, dead: replaced before use
        (3600.0, True, "fails"),  # used a moment ago: not pinged, the query finds it dead
    ],
)
def test_a_connection_idle_in_the_pool_is_pinged_and_replaced_when_dead(
    database: Database, idle_seconds: float, killed: bool, outcome: str
) -> None:
    """A connection idle for longer than the threshold is pinged, and a dead one replaced
    before use; one used within it is handed out without a round trip (so a server that
    went away meanwhile fails the one request that finds it)."""
    if database.dialect != "postgresql":
        pytest.skip("SQLite has no server to lose")
    engine = create_engine(database.engine.url, pool_size=1, max_overflow=0)
    ping_when_idle(engine, idle_seconds)
    pid = text("SELECT pg_backend_pid()")
    try:
        with engine.connect() as connection:
            backend = connection.execute(pid).scalar()
        if killed:
            with database.engine.connect() as other:
                # waits (up to 5 s) until the backend is gone
                other.execute(text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": backend})
                other.commit()
        with engine.connect() as connection:
            if outcome == "fails":
                with pytest.raises(OperationalError):
                    connection.execute(pid)
            else:
                now = connection.execute(pid).scalar()
                assert (now == backend) is (outcome == "the same")
    finally:
        engine.dispose()


_NO_ROW_UPDATE = text("UPDATE organizations SET name = name WHERE id IS NULL")
"""A write that changes nothing but still needs SQLite's write lock."""


def _no_row_update(session: Session) -> int:
    return session.connection().execute(_NO_ROW_UPDATE).rowcount


def _run_unit(database: Database, work: Callable[[Session], T]) -> tuple[T, bool]:
    """``work`` through ``run_in_unit`` from an event loop, as an async route calls it;
    with whether it ran on the event loop's own thread."""
    on_loop: list[bool] = []
    result = _run_recording(database, work, on_loop)
    return result, on_loop == [True]


def _run_recording(database: Database, work: Callable[[Session], T], on_loop: list[bool]) -> T:
    """``work`` through ``run_in_unit`` from an event loop; appends to ``on_loop`` whether
    it ran on the loop's own thread before it runs (so also when it raises)."""

    async def main() -> T:
        loop_thread = threading.get_ident()

        def recorded(session: Session) -> T:
            on_loop.append(threading.get_ident() == loop_thread)
            return work(session)

        with database.unit_of_work() as session:
            return await run_in_unit(session, recorded)

    return anyio.run(main)


def _other_connection(database: Database) -> sqlite3.Connection:
    """A connection to the same SQLite file outside the engine's pool, never waiting."""
    path = database.engine.url.database
    assert path
    return sqlite3.connect(path, timeout=0, isolation_level=None, check_same_thread=False)


def test_a_unit_runs_on_the_event_loop_only_on_sqlite_with_the_write_lock_free(
    database: Database,
) -> None:
    """The first unit of a process makes the loop's connection in the thread pool (a
    checkout could wait); the next ones run on the loop, on SQLite only."""
    fresh = Database(database.settings)
    try:
        assert _run_unit(fresh, _no_row_update) == (0, False)
        assert _run_unit(fresh, _no_row_update) == (0, fresh.dialect == "sqlite")
    finally:
        fresh.close()


def test_a_unit_that_finds_the_sqlite_write_lock_held_waits_for_it_off_the_loop(
    database: Database,
) -> None:
    if database.dialect != "sqlite":
        pytest.skip("PostgreSQL units always run in the thread pool (the test above)")
    holder = _other_connection(database)
    holder.execute("BEGIN IMMEDIATE")
    release = threading.Timer(0.3, holder.execute, ["ROLLBACK"])
    release.start()
    started = time.monotonic()
    try:
        result, on_loop = _run_unit(database, _no_row_update)
    finally:
        release.join()
        holder.close()
    assert result == 0
    assert not on_loop
    assert time.monotonic() - started >= 0.25  # it waited for the lock, and got it


@pytest.mark.parametrize("touched", [True, False], ids=["after-a-write", "before-any"])
def test_a_unit_that_fails_on_the_event_loop_releases_the_write_lock(
    database: Database, touched: bool
) -> None:
    if database.dialect != "sqlite":
        pytest.skip("only SQLite units run on the event loop")

    class Refused(Exception):
        pass

    def refuse(session: Session) -> None:
        if touched:
            session.execute(_NO_ROW_UPDATE)
        raise Refused

    _run_unit(database, _no_row_update)  # the loop's connection is made
    ran_on_loop: list[bool] = []
    with pytest.raises(Refused):
        _run_recording(database, refuse, ran_on_loop)
    assert ran_on_loop == [True]
    other = _other_connection(database)
    try:
        other.execute("BEGIN IMMEDIATE")  # at once: nothing holds the lock any more
        other.execute("ROLLBACK")
    finally:
        other.close()
    assert _run_unit(database, _no_row_update) == (0, True)  # and the next unit is fine
