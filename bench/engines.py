"""The event engines side by side: inserts and queries on DuckDB and PostgreSQL in one run.

The same generated events (bench/generate_events.py's generator) go into a fresh DuckDB
file and a fresh PostgreSQL database through each engine's ``insert`` in batches (the path
the API takes), then the event benchmarks' queries run on both, alternating, and the
report gives each engine's p50 and the ratio PostgreSQL / DuckDB:

    python bench/engines.py --events 1000000 --start-postgres
    python bench/engines.py --events 1000000 --postgres-url postgresql://user@host:5432
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _common import machine  # noqa: E402
from tests.fixtures.postgres import create_database, postgres_server  # noqa: E402

from tallybook.events.engines.duckdb.store import DuckDBEventStore  # noqa: E402
from tallybook.events.engines.postgres.store import PostgresEventStore  # noqa: E402
from tallybook.events.engines.runner import QueryRunner  # noqa: E402
from tallybook.events.generate import (  # noqa: E402
    Spec,
    organization_ids,
    read_events,
    write_events,
)
from tallybook.events.query.language import EventQuery, Interval  # noqa: E402

ZONE = "Europe/Helsinki"
VENDOR = "com.giosg.chat"
BATCH = 10_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=20, help="timed runs per query")
    parser.add_argument("--postgres-url", help="a PostgreSQL server URL (no database)")
    parser.add_argument("--start-postgres", action="store_true", help="start a throwaway one")
    args = parser.parse_args()
    if not args.postgres_url and not args.start_postgres:
        parser.error("give --postgres-url or --start-postgres")

    print(machine())
    spec = Spec(events=args.events, organizations=10, days=30)
    org = organization_ids(1, spec.seed)[0]
    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="tb-engines-")))
        server = args.postgres_url or stack.enter_context(postgres_server())
        data = folder / "events.parquet"
        write_events(data, spec)
        stores: dict[str, QueryRunner] = {
            "duckdb": DuckDBEventStore(folder / "events.duckdb"),
            "postgres": PostgresEventStore(create_database(server, "bench_engines")),
        }
        for store in stores.values():
            stack.callback(store.close)
        print(f"{args.events:,} events, 10 organisations, 30 days; batches of {BATCH:,}")
        for name, store in stores.items():
            started = time.perf_counter()
            for batch in read_events(data, batch_size=BATCH):
                store.insert(batch)
            elapsed = time.perf_counter() - started
            print(f"insert  {name:<9} {args.events / elapsed:>10,.0f} events/s  ({elapsed:.1f} s)")
        run_queries(stores, org, spec.start, args.repeat)


def run_queries(stores: dict[str, QueryRunner], org: object, start: datetime, repeat: int) -> None:
    month = Interval(start=start, end=start + timedelta(days=30))

    def day(i: int) -> Interval:
        first = start.replace(hour=0, tzinfo=UTC) - timedelta(hours=2) + timedelta(days=i % 28)
        return Interval(start=first, end=first + timedelta(days=1))

    cases: list[tuple[str, EventQuery, Callable[[int], Interval]]] = [
        (
            "target: count, selector, one day",
            EventQuery.model_validate(
                {
                    "vendor": VENDOR,
                    "filters": {"type": "selector", "dimension": "category", "value": "widget"},
                }
            ),
            day,
        ),
        (
            "hourly, group_by 2 dims, 30 days",
            EventQuery.model_validate(
                {"vendor": VENDOR, "granularity": "hour", "group_by": ["category", "device_type"]}
            ),
            lambda _i: month,
        ),
        (
            "daily, group_by properties, 3 metrics, 30 days",
            EventQuery.model_validate(
                {
                    "vendor": VENDOR,
                    "granularity": "day",
                    "group_by": ["properties"],
                    "aggregations": ["count", "sum", "visitor_id_uniq"],
                }
            ),
            lambda _i: month,
        ),
    ]
    for name, query, interval in cases:
        times: dict[str, list[float]] = {engine: [] for engine in stores}
        answers = {
            engine: store.fetch(org, query, interval(0), ZONE).data  # type: ignore[arg-type]
            for engine, store in stores.items()
        }
        assert same(answers["duckdb"], answers["postgres"]), f"{name}: the engines disagree"
        for i in range(repeat):
            for engine, store in stores.items():  # alternating, so both see the same load
                started = time.perf_counter()
                store.fetch(org, query, interval(i), ZONE)  # type: ignore[arg-type]
                times[engine].append(time.perf_counter() - started)
        duck, pg = (statistics.median(times[e]) for e in ("duckdb", "postgres"))
        print(
            f"{name:<48} {len(answers['duckdb']):>6,} rows  duckdb p50 {duck * 1e3:7.1f} ms"
            f"  postgres p50 {pg * 1e3:7.1f} ms  ratio {pg / duck:5.2f}"
        )


def same(first: list[list[object]], second: list[list[object]]) -> bool:
    """Equal rows, but for sums of doubles, which differ in the last bits with the order
    each engine adds them in."""
    if len(first) != len(second):
        return False
    for one, other in zip(first, second, strict=True):
        for a, b in zip(one, other, strict=True):
            if isinstance(a, float) and isinstance(b, float):
                if not math.isclose(a, b, rel_tol=1e-9):
                    return False
            elif a != b:
                return False
    return True


if __name__ == "__main__":
    main()
