"""Query latency of the DuckDB event store, against the same SQL run bare in DuckDB.

Load the data first (bench/generate_events.py, bench/bulk_load.py), e.g. 10,000,000
events of one organisation over 30 days from 2021-03-01:

    python bench/query.py --db /tmp/bench.duckdb --repeat 50
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _common import machine

from tallybook.events.engines.duckdb.store import DuckDBEventStore
from tallybook.events.generate import organization_ids
from tallybook.events.query.dialects import DialectName
from tallybook.events.query.language import EventQuery, Interval
from tallybook.events.query.plan import FetchPlan
from tallybook.events.query.render import render_fetch, render_value

ZONE = "Europe/Helsinki"
VENDOR = "com.giosg.chat"


def report(name: str, ours: list[float], bare: list[float], rows: int) -> None:
    p50, p95 = statistics.median(ours), sorted(ours)[int(len(ours) * 0.95) - 1]
    bare50 = statistics.median(bare)
    print(
        f"{name:<44} {rows:>7,} rows  p50 {p50 * 1e3:7.1f} ms  p95 {p95 * 1e3:7.1f} ms"
        f"  bare SQL p50 {bare50 * 1e3:7.1f} ms  ratio {p50 / bare50:.2f}"
    )


def day(start: datetime, i: int) -> Interval:
    """The i-th local day (Helsinki) of the 30, cycling, so each run reads other data."""
    first = start.replace(hour=0) - timedelta(hours=2) + timedelta(days=i % 28)  # +02:00
    return Interval(start=first, end=first + timedelta(days=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, default=Path("bench-events.duckdb"))
    parser.add_argument("--org", type=uuid.UUID, default=None, help="default: the seed's first")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--start", default="2021-03-01", help="first day of the data (UTC)")
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--memory-limit", help="DuckDB's memory_limit (e.g. 256MB)")
    args = parser.parse_args()

    org = args.org or organization_ids(1, args.seed)[0]
    start = datetime.fromisoformat(args.start).replace(tzinfo=UTC)
    month = Interval(start=start, end=start + timedelta(days=30))
    print(machine())
    store = DuckDBEventStore(args.db, memory_limit=args.memory_limit)
    print(f"DuckDB memory_limit: {args.memory_limit or 'DuckDB default'}")
    with store.cursor() as cursor:
        total = cursor.execute("SELECT count(*) FROM events").fetchone()
    print(f"{args.db}: {total[0] if total else 0:,} events; organisation {org}; zone {ZONE}")

    target = EventQuery.model_validate(
        {
            "vendor": VENDOR,
            "filters": {"type": "selector", "dimension": "category", "value": "widget"},
        }
    )
    hourly = EventQuery.model_validate(
        {"vendor": VENDOR, "granularity": "hour", "group_by": ["category", "device_type"]}
    )
    daily = EventQuery.model_validate(
        {
            "vendor": VENDOR,
            "granularity": "day",
            "group_by": ["properties"],
            "aggregations": ["count", "sum", "visitor_id_uniq"],
        }
    )
    cases: list[tuple[str, EventQuery, Callable[[int], Interval]]] = [
        ("target: count, selector, one day", target, lambda i: day(start, i)),
        ("hourly, group_by 2 dims, 30 days", hourly, lambda _i: month),
        ("daily, group_by properties, 3 metrics, 30 days", daily, lambda _i: month),
    ]
    try:
        for name, query, interval in cases:
            run_fetch(store, org, name, query, interval, args.repeat)
        run_value(store, org, target, start, args.repeat)
    finally:
        store.close()


def run_fetch(
    store: DuckDBEventStore,
    org: uuid.UUID,
    name: str,
    query: EventQuery,
    interval: Callable[[int], Interval],
    repeat: int,
) -> None:
    """Tallybook's fetch and the bare SQL, alternating, after one warm-up pass over the data."""
    rows = len(store.fetch(org, query, interval(0), ZONE).data)
    ours: list[float] = []
    bare: list[float] = []
    with store.cursor() as cursor:
        for i in range(-min(repeat, 28), repeat):
            window = interval(i)
            started = time.perf_counter()
            store.fetch(org, query, window, ZONE)
            elapsed = time.perf_counter() - started
            plan = FetchPlan.build(org, query, window.start, window.end, ZONE)
            rendered = render_fetch(plan, DialectName.DUCKDB)
            started = time.perf_counter()
            cursor.execute(rendered.sql, rendered.params).fetchall()
            if i >= 0:
                ours.append(elapsed)
                bare.append(time.perf_counter() - started)
    report(name, ours, bare, rows)


def run_value(
    store: DuckDBEventStore, org: uuid.UUID, query: EventQuery, start: datetime, repeat: int
) -> None:
    ours: list[float] = []
    bare: list[float] = []
    with store.cursor() as cursor:
        for i in range(-min(repeat, 28), repeat):
            window = day(start, i)
            started = time.perf_counter()
            store.value(org, query, window.start, window.end, "count")
            elapsed = time.perf_counter() - started
            rendered = render_value(
                org, query, window.start, window.end, "count", DialectName.DUCKDB
            )
            started = time.perf_counter()
            cursor.execute(rendered.sql, rendered.params).fetchall()
            if i >= 0:
                ours.append(elapsed)
                bare.append(time.perf_counter() - started)
    report("value(): count, selector, one day", ours, bare, 1)


if __name__ == "__main__":
    main()
