"""The event engines side by side: inserts and queries on DuckDB, PostgreSQL and ClickHouse
in one run.

The same generated events (bench/generate_events.py's generator) go into a fresh DuckDB
file, a fresh PostgreSQL database and a fresh ClickHouse (in-process, chdb, in a temporary
directory) through each engine's ``insert`` in batches (the path the API takes), and so do
a workflow's sessions (bench/chart.py's generator). Then the event benchmarks' queries and
the funnel chart (``service.run_chart``, with a path on every step) run on every engine,
alternating, each answer checked against DuckDB's; the report gives each engine's p50 and
its ratio to DuckDB's (below 1: faster than DuckDB):

    python bench/engines.py --events 1000000 --start-postgres
    python bench/engines.py --events 1000000 --postgres-url postgresql://user@host:5432
    python bench/engines.py --events 1000000 --engines duckdb,clickhouse

bench/engines_at_scale.py runs the same comparison at 10 M events with the bulk load, the
funnel chart through the HTTP API and HTTP ingestion (PostgreSQL with 1 and 2 API
processes).
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _common import machine  # noqa: E402
from chart import events as workflow_events  # noqa: E402
from tests.fixtures.postgres import create_database, postgres_server  # noqa: E402

from tallybook.events.engines.clickhouse.store import embedded_store  # noqa: E402
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
from tallybook.funnels.charts import ChartEvents  # noqa: E402
from tallybook.funnels.paths import StepPath, WorkflowScope  # noqa: E402
from tallybook.funnels.service import run_chart  # noqa: E402

ZONE = "Europe/Helsinki"
VENDOR = "com.giosg.chat"
BATCH = 10_000
ENGINES = ("duckdb", "postgres", "clickhouse")
FUNNEL_STEPS = 5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--sessions", type=int, default=50_000, help="a workflow's sessions")
    parser.add_argument("--repeat", type=int, default=20, help="timed runs per query")
    parser.add_argument(
        "--engines",
        default=",".join(ENGINES),
        help="comma-separated, from duckdb,postgres,clickhouse (duckdb is always run: the "
        "ratios are to it)",
    )
    parser.add_argument("--postgres-url", help="a PostgreSQL server URL (no database)")
    parser.add_argument("--start-postgres", action="store_true", help="start a throwaway one")
    args = parser.parse_args()
    engines = ["duckdb", *(e for e in args.engines.split(",") if e and e != "duckdb")]
    if unknown := set(engines) - set(ENGINES):
        parser.error(f"unknown engines: {', '.join(sorted(unknown))}")
    if "postgres" in engines and not args.postgres_url and not args.start_postgres:
        parser.error("postgres needs --postgres-url or --start-postgres")

    print(machine())
    spec = Spec(events=args.events, organizations=10, days=30)
    org = organization_ids(1, spec.seed)[0]
    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="tb-engines-")))
        data = folder / "events.parquet"
        write_events(data, spec)
        stores: dict[str, QueryRunner] = {}
        for engine in engines:
            stores[engine] = open_engine(engine, folder, stack, args.postgres_url)
            stack.callback(stores[engine].close)
        print(f"{args.events:,} events, 10 organisations, 30 days; batches of {BATCH:,}")
        for name, store in stores.items():
            started, cpu = time.perf_counter(), time.process_time()
            for batch in read_events(data, batch_size=BATCH):
                store.insert(batch)
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
            print(
                f"insert  {name:<10} {args.events / elapsed:>10,.0f} events/s  "
                f"({elapsed:.1f} s wall, {cpu:.1f} s CPU of this process)"
            )
        funnel = load_funnel(stores, args.sessions)
        run_queries(stores, org, spec.start, args.repeat, funnel)


def open_engine(
    engine: str, folder: Path, stack: ExitStack, postgres_url: str | None
) -> QueryRunner:
    if engine == "duckdb":
        return DuckDBEventStore(folder / "events.duckdb")
    if engine == "clickhouse":
        return embedded_store(folder / "clickhouse")
    server = postgres_url or stack.enter_context(postgres_server())
    return PostgresEventStore(create_database(server, "bench_engines"))


def load_funnel(stores: dict[str, QueryRunner], sessions: int) -> ChartEvents:
    """A workflow's sessions in every store; the chart's events with a path on every step."""
    org, workflow = uuid.uuid4(), uuid.uuid4()
    rows = workflow_events(org, workflow, sessions, FUNNEL_STEPS, 3)
    for store in stores.values():
        for offset in range(0, len(rows), BATCH):
            store.insert(rows[offset : offset + BATCH])
    print(f"funnel: {len(rows):,} events, {sessions:,} sessions, {FUNNEL_STEPS} steps")
    start = min(row.timestamp for row in rows)
    scope = WorkflowScope(org, workflow, start, start + timedelta(days=29))
    listed: list[list[str]] = [[]] + [
        [f"view-{k}-0", f"view-{k}-1"] for k in range(1, FUNNEL_STEPS)
    ]
    return ChartEvents(scope, StepPath.of("interaction", listed))


def run_queries(
    stores: dict[str, QueryRunner],
    org: object,
    start: datetime,
    repeat: int,
    funnel: ChartEvents,
) -> None:
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
    runs: list[tuple[str, Callable[[QueryRunner, int], list[Any]]]] = [
        (name, fetcher(org, query, interval)) for name, query, interval in cases
    ]
    runs.append(("funnel chart, path on every step", lambda store, _i: chart_rows(store, funnel)))
    for name, run in runs:
        times: dict[str, list[float]] = {engine: [] for engine in stores}
        answers = {engine: run(store, 0) for engine, store in stores.items()}
        for engine, answer in answers.items():
            assert same(answers["duckdb"], answer), f"{name}: {engine} disagrees with duckdb"
        for i in range(repeat):
            for engine, store in stores.items():  # alternating, so all see the same load
                started = time.perf_counter()
                run(store, i)
                times[engine].append(time.perf_counter() - started)
        duck = statistics.median(times["duckdb"])
        line = f"{name:<48} {len(answers['duckdb']):>6,} rows  duckdb p50 {duck * 1e3:7.1f} ms"
        for engine in stores:
            if engine != "duckdb":
                p50 = statistics.median(times[engine])
                line += f"  {engine} p50 {p50 * 1e3:7.1f} ms ratio {p50 / duck:5.2f}"
        print(line)


def fetcher(
    org: object, query: EventQuery, interval: Callable[[int], Interval]
) -> Callable[[QueryRunner, int], list[Any]]:
    def run(store: QueryRunner, i: int) -> list[Any]:
        return store.fetch(org, query, interval(i), ZONE).data  # type: ignore[arg-type]

    return run


def chart_rows(store: QueryRunner, funnel: ChartEvents) -> list[Any]:
    """The chart's steps and links as comparable rows."""
    chart = run_chart(store, funnel)
    return [[repr(step) for step in chart["steps"]], [repr(link) for link in chart["links"]]]


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
