"""The PostgreSQL engine's own machinery: writers in several processes (each a store with
its own pool), partitions made on demand under a race, and streaming through a cursor."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from tallybook.events.engines.postgres.schema import partition_name
from tallybook.events.engines.postgres.store import PostgresEventStore
from tallybook.events.query.language import Interval
from tallybook.events.records import InsertResult
from tests.events.helpers import event, query


@pytest.fixture
def stores(postgres_events_url: str) -> Iterator[list[PostgresEventStore]]:
    """Four stores on one database, as four API or worker processes would have."""
    opened = [PostgresEventStore(postgres_events_url, pool_size=2) for _ in range(4)]
    yield opened
    for store in opened:
        store.close()


def test_resends_from_several_writers_are_stored_exactly_once(
    stores: list[PostgresEventStore],
) -> None:
    org = uuid.uuid4()
    ids = [uuid.uuid4() for _ in range(400)]
    # Every writer sends every id, in its own order and batching, at the same time.
    jobs = []
    for n, store in enumerate(stores):
        order = ids[n:] + ids[:n] if n % 2 else list(reversed(ids))
        jobs += [(store, order[i : i + 50]) for i in range(0, len(order), 50)]

    def send(job: tuple[PostgresEventStore, list[uuid.UUID]]) -> InsertResult:
        store, keys = job
        return store.insert([event(org, id=key) for key in keys])

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(send, jobs))
    assert sum(r.stored for r in results) == len(ids)
    assert sum(r.duplicates for r in results) == len(ids) * (len(stores) - 1)
    start = datetime(2021, 3, 1, tzinfo=UTC)
    total = stores[0].value(org, query(), start, start + timedelta(days=60), "count")
    assert total == len(ids)


def test_months_get_partitions_even_when_writers_race(
    stores: list[PostgresEventStore],
) -> None:
    org = uuid.uuid4()
    # A month far from every other test's, first seen by all four writers at once.
    month = datetime(1987, 6, 15, tzinfo=UTC)

    def send(store: PostgresEventStore) -> InsertResult:
        return store.insert([event(org, month), event(org, month + timedelta(days=20))])

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(send, stores))
    assert all(r == InsertResult(stored=2, duplicates=0) for r in results)
    names = {
        row[0]
        for row in stores[0].execute(
            "SELECT relname FROM pg_class WHERE relkind = 'r' AND relname LIKE 'events_1987_%%'", {}
        )
    }
    assert names == {partition_name((1987, 6)), partition_name((1987, 7))}
    interval = Interval(start=month - timedelta(days=30), end=month + timedelta(days=60))
    rows = stores[1].fetch(org, query(granularity="month"), interval, "UTC").data
    assert [row[1] for row in rows] == [4, 4]


def test_stream_reads_through_a_cursor_in_batches(stores: list[PostgresEventStore]) -> None:
    org = uuid.uuid4()
    start = datetime(2021, 5, 1, tzinfo=UTC)
    stores[0].insert([event(org, start + timedelta(minutes=i)) for i in range(250)])
    interval = Interval(start=start, end=start + timedelta(days=1))
    batches = list(
        stores[0].stream(org, query(granularity="minute"), interval, "UTC", batch_rows=100)
    )
    assert [len(batch) for batch in batches] == [100, 100, 50]
    whole = stores[0].fetch(org, query(granularity="minute"), interval, "UTC").data
    assert [row for batch in batches for row in batch] == whole
