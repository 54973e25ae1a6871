"""Inserts are idempotent by id, atomic per batch, durable once they return."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import clickhouse_connect.driver.exceptions
import duckdb
import psycopg
import pytest

from tallybook.events.engines.duckdb.store import DuckDBEventStore
from tallybook.events.engines.runner import QueryRunner
from tallybook.events.query.language import Interval
from tallybook.events.records import InsertResult, StoredEvent
from tests.events.helpers import T0, event, query

WEEK = timedelta(days=7)
CONSTRAINT_VIOLATIONS = (
    duckdb.ConstraintException,
    psycopg.errors.IntegrityError,
    clickhouse_connect.driver.exceptions.DataError,  # a non-Nullable column
)
"""What each engine raises for a batch the table refuses (the API never sends one)."""


def count(store: QueryRunner, org: uuid.UUID) -> float:
    return store.value(org, query(), T0 - WEEK, T0 + WEEK, "count") or 0.0


def test_empty_batch(store: QueryRunner) -> None:
    assert store.insert([]) == InsertResult(stored=0, duplicates=0)


def test_resending_a_batch_stores_nothing_twice(store: QueryRunner) -> None:
    org = uuid.uuid4()
    batch = [event(org, id=uuid.uuid4()) for _ in range(5)]
    assert store.insert(batch) == InsertResult(stored=5, duplicates=0)
    assert store.insert(batch) == InsertResult(stored=0, duplicates=5)
    fresh = [event(org, id=uuid.uuid4()), event(org)]
    assert store.insert([*batch[:2], *fresh]) == InsertResult(stored=2, duplicates=2)
    assert count(store, org) == 7


def test_events_without_id_are_never_duplicates(store: QueryRunner) -> None:
    org = uuid.uuid4()
    same = event(org)
    assert store.insert([same, same]) == InsertResult(stored=2, duplicates=0)
    assert store.insert([same]) == InsertResult(stored=1, duplicates=0)
    assert count(store, org) == 3


def test_an_id_repeated_within_a_batch_is_stored_once(store: QueryRunner) -> None:
    org, key = uuid.uuid4(), uuid.uuid4()
    batch = [event(org, id=key, label="first"), event(org, id=key, label="second")]
    assert store.insert(batch) == InsertResult(stored=1, duplicates=1)
    q = query(group_by=["label"])
    rows = store.fetch(org, q, interval(), "UTC").data
    assert [row[1] for row in rows] == ["first"]


def test_ids_are_per_organisation(store: QueryRunner) -> None:
    key = uuid.uuid4()
    first, second = uuid.uuid4(), uuid.uuid4()
    assert store.insert([event(first, id=key)]) == InsertResult(stored=1, duplicates=0)
    assert store.insert([event(second, id=key)]) == InsertResult(stored=1, duplicates=0)


def test_the_stored_id_is_the_clients(store: QueryRunner) -> None:
    org, key = uuid.uuid4(), uuid.uuid4()
    store.insert([event(org, id=key), event(org)])
    where = "$org" if store.dialect.name == "duckdb" else "%(org)s"
    ids = store.execute(f"SELECT id FROM events WHERE organization_id = {where}", {"org": org})
    assert len(ids) == 2 and {row[0] for row in ids} == {key, None}  # none given: null


def interval() -> Interval:
    return Interval(start=T0 - WEEK, end=T0 + WEEK)


@pytest.mark.parametrize("with_known_id", [False, True])
def test_a_batch_failing_midway_stores_nothing(store: QueryRunner, with_known_id: bool) -> None:
    org = uuid.uuid4()
    known = event(org, id=uuid.uuid4())
    store.insert([known])
    good = [event(org, id=uuid.uuid4()) for _ in range(3)]
    broken = event(org, id=uuid.uuid4(), category=None)  # NOT NULL
    batch = [*good, broken] + ([known] if with_known_id else [])
    with pytest.raises(CONSTRAINT_VIOLATIONS):
        store.insert(batch)
    assert count(store, org) == 1
    # The ids of the failed batch were not kept: sending it again, fixed, stores it all.
    assert store.insert(good) == InsertResult(stored=3, duplicates=0)


def test_concurrent_inserts_and_reads(store: QueryRunner) -> None:
    org = uuid.uuid4()
    batches = [[event(org, id=uuid.uuid4()) for _ in range(50)] for _ in range(20)]

    def work(batch: list[StoredEvent]) -> InsertResult:
        store.fetch(org, query(granularity="hour"), interval(), "Europe/Helsinki")
        return store.insert(batch)

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(work, batches + batches))
    assert sum(r.stored for r in results) == 1000
    assert sum(r.duplicates for r in results) == 1000
    assert count(store, org) == 1000


def queued_together(store: DuckDBEventStore, batches: list[list[StoredEvent]]) -> list[Any]:
    """Insert the batches from threads that all queue while the write lock is taken, so
    the first to get it appends them as one group; each thread's result or exception."""
    with ThreadPoolExecutor(max_workers=len(batches)) as pool, store.writing():
        futures = [pool.submit(store.insert, batch) for batch in batches]
        while len(store._queue) < len(batches):  # white box: wait until all are queued
            time.sleep(0.005)
    return [future.exception() or future.result() for future in futures]


def test_batches_waiting_together_are_appended_together(duckdb_store: DuckDBEventStore) -> None:
    store = duckdb_store  # group commit is the embedded engine's
    org = uuid.uuid4()
    batches = [[event(org), event(org, id=uuid.uuid4())] for _ in range(3)]
    results = queued_together(store, [*batches, [event(org)]])
    assert results == [InsertResult(stored=2, duplicates=0)] * 3 + [InsertResult(1, 0)]
    assert count(store, org) == 7


def test_in_a_group_a_bad_batch_fails_alone(duckdb_store: DuckDBEventStore) -> None:
    store = duckdb_store  # group commit is the embedded engine's
    org = uuid.uuid4()
    broken = [event(org), event(org, category=None)]  # NOT NULL
    results = queued_together(store, [[event(org)], broken, [event(org, id=uuid.uuid4())]])
    assert results[0] == results[2] == InsertResult(stored=1, duplicates=0)
    assert isinstance(results[1], duckdb.ConstraintException)
    assert count(store, org) == 2


def test_in_a_group_an_id_sent_twice_is_stored_once(duckdb_store: DuckDBEventStore) -> None:
    store = duckdb_store  # group commit is the embedded engine's
    org, key = uuid.uuid4(), uuid.uuid4()
    results = queued_together(
        store, [[event(org, id=key, label="first")], [event(org), event(org, id=key)]]
    )
    assert results == [InsertResult(stored=1, duplicates=0), InsertResult(1, 1)]
    rows = store.fetch(org, query(group_by=["label"]), interval(), "UTC").data
    assert [(row[1], row[2]) for row in rows] == [("first", 1), ("l", 1)]


CHILD = textwrap.dedent(
    """
    import sys, uuid
    from datetime import datetime, UTC
    from tallybook.events.engines.duckdb.store import DuckDBEventStore
    from tallybook.events.records import StoredEvent
    store = DuckDBEventStore(sys.argv[1])
    org = uuid.UUID(sys.argv[2])
    with_ids = sys.argv[3] == "ids"
    now = datetime(2021, 3, 28, tzinfo=UTC)
    batch = [
        StoredEvent(
            org, "trusted", now, now, 1, "v", "c", "a", "l", id=uuid.uuid4() if with_ids else None
        )
        for _ in range(1000)
    ]
    result = store.insert(batch)
    print(result.stored, flush=True)
    sys.stdin.read()  # wait to be killed
    """
)


@pytest.mark.parametrize("ids", ["ids", "no-ids"])
def test_an_insert_survives_kill_9(tmp_path: Path, ids: str) -> None:
    path, org = tmp_path / "events.duckdb", uuid.uuid4()
    src = str(Path(__file__).resolve().parents[2] / "src")
    env = {**os.environ, "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", "")}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path), str(org), ids],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=env,
        text=True,
    )
    assert child.stdout is not None
    line = child.stdout.readline()
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    assert line.strip() == "1000"
    assert path.with_name("events.duckdb.wal").exists()  # recovery must replay the log

    reopened = DuckDBEventStore(path)
    try:
        assert count(reopened, org) == 1000
    finally:
        reopened.close()
