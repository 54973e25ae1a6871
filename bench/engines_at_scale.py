"""The event benchmarks on DuckDB, PostgreSQL and ClickHouse side by side, in one run, at
10 M events: bulk load, the target query, the hourly two-dimension group_by, the funnel
chart through the API, and HTTP ingestion (PostgreSQL also with two API processes).

One data set for every engine (bench/funnels.py's: one organisation, ``--events`` events
over 30 days of which ``--sessions`` workflow sessions carry a workflow's step and goal
events, the rest the event generator's). In order:

1. **Bulk load**: the Parquet file into a fresh store of each engine through
   ``tallybook.events.bulk.load_file`` (what ``tallybook events load`` runs): DuckDB loads
   it itself in one transaction, PostgreSQL and ClickHouse get batches of 10,000 events.
   Wall time and this process's CPU (DuckDB's and chdb's threads included; PostgreSQL's
   server is another process).
2. **Queries**, on the loaded stores, alternating engines so that all see the same load,
   each answer first checked against DuckDB's: the target query (count, one selector, one
   day, a different day each run), the hourly group_by of two dimensions (count; and count
   with distinct visitors) over 30 days through the engine's ``fetch``, and the funnel
   chart (``POST …/workflows/{wf}/query/``, without a path and with a three-step path)
   through the HTTP app in this process (a real token; the relational store is one
   SQLite file shared by the three apps).
3. **HTTP ingestion**: ``tallybook serve --no-worker`` on a fresh store of each engine,
   ``--ingest-events`` events in 1,000-event batches from 4 client threads
   (bench/ingest_http.py), ``--ingest-rounds`` rounds alternating the engines; on
   PostgreSQL (events and relational store in one database) once with one API process
   and once with ``--workers 2``. ClickHouse here is chdb (in-process, so one API process).

Every figure is printed with its ratio to DuckDB's (below 1: faster than DuckDB), and the
load average before and after. PostgreSQL runs with ``fsync=off`` when the script starts
it (``--start-postgres``), as in the test suite; DuckDB and ClickHouse sync their writes.

Loading 10 M events into PostgreSQL and ClickHouse in batches takes a long while; with
``--data-dir`` the loaded stores (and the PostgreSQL server's files, with
``--start-postgres``) are kept there, and a later run with the same directory reuses them:
it skips the data and the bulk load and runs the rest.

    python bench/engines_at_scale.py --events 10000000 --start-postgres --data-dir ../scale
    python bench/engines_at_scale.py --events 1000000 --sessions 20000 --start-postgres \\
        --repeat 5 --ingest-events 200000
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path
from typing import Any

import duckdb
from fastapi.testclient import TestClient

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _common import machine, postmaster_pid  # noqa: E402
from engines import same  # noqa: E402
from ingest_http import ingest  # noqa: E402
from tests.fixtures.postgres import create_database, postgres_server  # noqa: E402
from tests.fixtures.tenants import make_tenant  # noqa: E402

from funnels import DAYS, INTERVAL, PATH, START, write_events  # noqa: E402
from tallybook.app import create_app  # noqa: E402
from tallybook.events.bulk import load_file  # noqa: E402
from tallybook.events.engines.clickhouse.store import embedded_store  # noqa: E402
from tallybook.events.engines.duckdb.store import DuckDBEventStore  # noqa: E402
from tallybook.events.engines.postgres.store import PostgresEventStore  # noqa: E402
from tallybook.events.engines.runner import QueryRunner  # noqa: E402
from tallybook.events.query.columns import (  # noqa: E402
    COLUMN_TYPES,
    COLUMNS,
    LIST_COLUMNS,
    ColumnType,
)
from tallybook.events.query.language import EventQuery, Interval  # noqa: E402
from tallybook.kit.db import Database  # noqa: E402
from tallybook.kit.migrate import upgrade  # noqa: E402
from tallybook.settings import Settings  # noqa: E402

SECRET = "bench-secret-key"
ZONE = "Europe/Helsinki"
VENDOR = "com.giosg.chat"
ENGINES = ("duckdb", "postgres", "clickhouse")
SETUP_FILE = "setup.json"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--sessions", type=int, default=200_000, help="a workflow's sessions")
    parser.add_argument("--repeat", type=int, default=10, help="timed runs per query and engine")
    parser.add_argument(
        "--budget",
        type=float,
        default=300,
        help="seconds per query for all engines' runs: fewer than --repeat when spent (at least 3)",
    )
    parser.add_argument(
        "--timed-load",
        type=int,
        default=1_000_000,
        help="events bulk-loaded through load_file and timed; the rest go in by each "
        "engine's fastest way, untimed",
    )
    parser.add_argument("--ingest-events", type=int, default=1_000_000, help="per ingest run")
    parser.add_argument("--ingest-rounds", type=int, default=2)
    parser.add_argument(
        "--engines",
        default=",".join(ENGINES),
        help="comma-separated, from duckdb,postgres,clickhouse (duckdb is always run: the "
        "ratios are to it)",
    )
    parser.add_argument(
        "--skip", action="append", default=[], choices=("queries", "ingest"), help="repeatable"
    )
    parser.add_argument("--postgres-url", help="a PostgreSQL server URL (no database)")
    parser.add_argument(
        "--start-postgres",
        action="store_true",
        help="start one (throwaway; with --data-dir its files are kept there)",
    )
    parser.add_argument(
        "--data-dir", type=Path, help="keep the loaded stores here; reuse them when present"
    )
    args = parser.parse_args()
    engines = ["duckdb", *(e for e in args.engines.split(",") if e and e != "duckdb")]
    if unknown := set(engines) - set(ENGINES):
        parser.error(f"unknown engines: {', '.join(sorted(unknown))}")
    if "postgres" in engines and not args.postgres_url and not args.start_postgres:
        parser.error("postgres needs --postgres-url or --start-postgres")

    print(machine())
    print(f"command: {' '.join(sys.argv)}")
    began = time.perf_counter()
    with ExitStack() as stack:
        if args.data_dir:
            folder = args.data_dir.resolve()
            folder.mkdir(parents=True, exist_ok=True)
        else:
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="tb-engines-")))
        server = None
        if "postgres" in engines:
            server = args.postgres_url
            if server is None:
                keep = folder / "postgres" if args.data_dir else None
                server = stack.enter_context(postgres_server(keep))
        if "queries" not in args.skip:
            loaded = Loaded(folder, engines, server, stack)
            if loaded.reuse(args.events, args.sessions):
                print("reusing the loaded stores (the bulk load was timed when they were made)")
            else:
                loaded.prepare(args.events, args.sessions)
                loaded.bulk_load(min(args.timed_load, args.events))
            loaded.run_queries(args.repeat, args.budget)
            loaded.close()
        if "ingest" not in args.skip:
            run_ingest(folder, engines, server, args.ingest_events, args.ingest_rounds)
    print(f"{time.perf_counter() - began:.0f} s in all")
    print("load average after:", ", ".join(f"{v:.2f}" for v in os.getloadavg()))


def fill_clickhouse(store: QueryRunner, parquet: Path) -> None:
    """ClickHouse reads the Parquet file itself (chdb runs in this process, so the file is
    its own); the column types match the table's."""
    columns = ", ".join(f"`{name}`" for name in COLUMNS)
    client = store._client  # type: ignore[attr-defined]  # a bench's shortcut
    client.command(
        f"INSERT INTO events ({columns}) SELECT {columns} FROM file('{parquet}', Parquet)"
    )


def fill_postgres(url: str, parquet: Path) -> None:
    """``COPY … (FORMAT csv)`` of a CSV file DuckDB writes: instants as UTC text, lists as
    array literals; then ``ANALYZE``."""
    import psycopg

    def item(name: str) -> str:
        if name in LIST_COLUMNS:
            escaped = "replace(replace(x, '\\', '\\\\'), '\"', '\\\"')"
            quoted = f"list_transform(\"{name}\", lambda x: '\"' || {escaped} || '\"')"
            return f"'{{' || array_to_string({quoted}, ',') || '}}' AS \"{name}\""
        if COLUMN_TYPES[name] is ColumnType.TIMESTAMP:
            return f"strftime(timezone('UTC', \"{name}\"), '%Y-%m-%d %H:%M:%S.%f') AS \"{name}\""
        return f'"{name}"'

    csv = parquet.with_suffix(".csv")
    with duckdb.connect() as db:
        db.execute("SET TimeZone = 'UTC'")
        items = ", ".join(item(name) for name in COLUMNS)
        db.execute(
            f"COPY (SELECT {items} FROM read_parquet('{parquet}')) TO '{csv}' "
            "(FORMAT csv, HEADER false, FORCE_QUOTE *)"
        )
    columns = ", ".join(f'"{name}"' for name in COLUMNS)
    plain = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as conn:
        with (
            conn.cursor() as cursor,
            cursor.copy(f"COPY events ({columns}) FROM STDIN (FORMAT csv)") as copy,
            csv.open("rb") as file,
        ):
            while chunk := file.read(1 << 20):
                copy.write(chunk)
        conn.execute("ANALYZE events")
    csv.unlink()


def drop_database(url: str) -> None:
    import psycopg

    server, name = url.replace("postgresql+psycopg://", "postgresql://").rsplit("/", 1)
    with psycopg.connect(server + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def ratio_line(name: str, figures: dict[str, float], unit: str, fmt: str = "{:,.1f}") -> str:
    duck = figures["duckdb"]
    line = f"{name:<50} duckdb {fmt.format(duck)} {unit}"
    for engine, value in figures.items():
        if engine != "duckdb":
            line += f"  {engine} {fmt.format(value)} {unit} ({value / duck:.2f}×)"
    return line


class Loaded:
    """A fresh store of each engine, each behind an app, all holding the same events."""

    def __init__(self, folder: Path, engines: list[str], server: str | None, stack: ExitStack):
        self.folder, self.engines, self.server = folder, engines, server
        self.stack = ExitStack()
        stack.callback(self.close)
        self.settings = Settings(
            data_dir=folder / "relational",
            secret_key=SECRET,
            log_level="warning",
            _env_file=None,
        )
        self.database = Database(self.settings)
        self.stack.callback(self.database.close)
        upgrade(self.database.engine)
        self.stores: dict[str, QueryRunner] = {}
        self.clients: dict[str, TestClient] = {}

    def close(self) -> None:
        self.stack.close()

    def open(self, engine: str, postgres_database: str) -> None:
        """The engine's store and an app on it."""
        store: QueryRunner
        if engine == "duckdb":
            store = DuckDBEventStore(self.folder / "events.duckdb")
        elif engine == "clickhouse":
            store = embedded_store(self.folder / "clickhouse")
        else:
            assert self.server is not None
            store = PostgresEventStore(f"{self.server}/{postgres_database}")
        self.stack.callback(store.close)
        self.stores[engine] = store
        app = create_app(self.settings, self.database, store)
        self.clients[engine] = self.stack.enter_context(TestClient(app))

    def reuse(self, events: int, sessions: int) -> bool:
        """Open the stores a run before loaded, when it loaded these numbers."""
        recorded = self.folder / SETUP_FILE
        if not recorded.exists():
            return False
        setup = json.loads(recorded.read_text())
        if (setup["events"], setup["sessions"]) != (events, sessions):
            raise SystemExit("the data directory holds another size: use another --data-dir")
        if missing := set(self.engines) - set(setup["engines"]):
            raise SystemExit(f"the data directory has no {', '.join(sorted(missing))} store")
        self.use(setup)
        for engine in self.engines:
            self.open(engine, setup["postgres_database"])
        return True

    def use(self, setup: dict[str, Any]) -> None:
        self.org = uuid.UUID(setup["organization_id"])
        self.headers = {"Authorization": f"Token {setup['token']}"}
        workflow = setup["workflow_id"]
        self.chart_url = f"/api/reporting/workflow/v1/orgs/{self.org}/workflows/{workflow}/query"

    def prepare(self, events: int, sessions: int) -> None:
        """The tenant, the workflow, the events file; each engine's store and app."""
        if any(path.name not in {"postgres", "relational"} for path in self.folder.iterdir()):
            raise SystemExit("--data-dir must be new or empty (or hold a finished setup)")
        tenant = make_tenant(self.database)
        self.headers = tenant.headers
        postgres_database = f"bench_scale_{uuid.uuid4().hex[:8]}"
        if self.server is not None and "postgres" in self.engines:
            create_database(self.server, postgres_database)
        for engine in self.engines:
            self.open(engine, postgres_database)
        created = self.clients["duckdb"].post(
            f"{tenant.objectives}/workflows",
            json={"name": "Bench funnel", "type": "interaction"},
            headers=self.headers,
        )
        assert created.status_code == 201, created.text
        setup = {
            "events": events,
            "sessions": sessions,
            "engines": self.engines,
            "organization_id": str(tenant.org_id),
            "workflow_id": created.json()["id"],
            "token": tenant.token,
            "postgres_database": postgres_database,
        }
        self.use(setup)
        self.data = self.folder / "events.parquet"
        started = time.perf_counter()
        steps, goals = write_events(
            self.data, events, sessions, str(self.org), setup["workflow_id"]
        )
        print(
            f"{events:,} events in one organisation over {DAYS} days; a workflow's "
            f"{sessions:,} sessions among them ({steps:,} step and {goals:,} goal events); "
            f"written in {time.perf_counter() - started:.0f} s"
        )
        self.setup = setup

    def bulk_load(self, timed: int) -> None:
        """The first ``timed`` events through ``load_file``, timed; the rest by the fastest
        way into each engine (not the product's path: only so that 10 M events load in
        minutes), timed apart."""
        sample, rest = self.folder / "sample.parquet", self.folder / "rest.parquet"
        with duckdb.connect() as db:
            db.execute("SET TimeZone = 'UTC'")
            source = f"read_parquet('{self.data}')"
            db.execute(
                f"COPY (SELECT * FROM {source} LIMIT {timed}) TO '{sample}' (FORMAT parquet)"
            )
            db.execute(f"COPY (SELECT * FROM {source} OFFSET {timed}) TO '{rest}' (FORMAT parquet)")
        rates: dict[str, float] = {}
        cpus: dict[str, float] = {}
        for engine, store in self.stores.items():
            load = os.getloadavg()[0]
            wall, cpu = time.perf_counter(), time.process_time()
            result = load_file(store, sample)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            rates[engine], cpus[engine] = result.stored / wall, cpu
            print(
                f"bulk load {engine:<10} {result.stored:,} events in {wall:.1f} s = "
                f"{rates[engine]:,.0f} events/s, {cpu:.1f} s CPU of this process "
                f"(load before {load:.2f})",
                flush=True,
            )
        print(ratio_line(f"bulk load of {timed:,} events, events/s", rates, "events/s", "{:,.0f}"))
        print(ratio_line(f"bulk load of {timed:,} events, CPU s of this process", cpus, "s"))
        for engine, store in self.stores.items():
            wall = time.perf_counter()
            if engine == "duckdb":
                load_file(store, rest)
            elif engine == "clickhouse":
                fill_clickhouse(store, rest)
            else:
                assert self.server is not None
                fill_postgres(f"{self.server}/{self.setup['postgres_database']}", rest)
            print(
                f"the rest into {engine}, outside the product's path: "
                f"{time.perf_counter() - wall:.0f} s",
                flush=True,
            )
        for path in (self.data, sample, rest):
            path.unlink()
        (self.folder / SETUP_FILE).write_text(json.dumps(self.setup))

    def run_queries(self, repeat: int, budget: float) -> None:
        month = Interval(start=START, end=START + timedelta(days=DAYS))

        def day(i: int) -> Interval:
            first = START + timedelta(days=1 + i % (DAYS - 2), hours=-2)
            return Interval(start=first, end=first + timedelta(days=1))

        target = EventQuery.model_validate(
            {
                "vendor": VENDOR,
                "filters": {"type": "selector", "dimension": "category", "value": "widget"},
            }
        )
        hourly = {"vendor": VENDOR, "granularity": "hour", "group_by": ["category", "device_type"]}
        hourly_count = EventQuery.model_validate(hourly)
        hourly_visitors = EventQuery.model_validate(
            {**hourly, "aggregations": ["count", "visitor_id_uniq"]}
        )
        runs: list[tuple[str, Callable[[str, int], list[Any]]]] = [
            ("target: count, selector, one day", self.fetcher(target, day)),
            (
                "hourly, group_by 2 dims, count, 30 days",
                self.fetcher(hourly_count, lambda _: month),
            ),
            (
                "hourly, group_by 2 dims, count + visitors, 30 days",
                self.fetcher(hourly_visitors, lambda _: month),
            ),
            ("funnel chart (API), no path", self.chart({"filters": [], "interval": INTERVAL})),
            (
                "funnel chart (API), three-step path",
                self.chart({"filters": [], "interval": INTERVAL, "step_data": PATH}),
            ),
        ]
        for name, run in runs:
            load = os.getloadavg()[0]
            answers = {engine: run(engine, 0) for engine in self.engines}
            for engine, answer in answers.items():
                assert same(answers["duckdb"], answer), f"{name}: {engine} disagrees with duckdb"
            walls: dict[str, list[float]] = {engine: [] for engine in self.engines}
            cpus: dict[str, list[float]] = {engine: [] for engine in self.engines}
            deadline = time.perf_counter() + budget
            for i in range(repeat):
                if i >= 3 and time.perf_counter() > deadline:
                    break
                for engine in self.engines:  # alternating, so all see the same load
                    wall, cpu = time.perf_counter(), time.process_time()
                    run(engine, i)
                    walls[engine].append(time.perf_counter() - wall)
                    cpus[engine].append(time.process_time() - cpu)
            p50 = {engine: statistics.median(times) * 1e3 for engine, times in walls.items()}
            cpu50 = {engine: statistics.median(times) * 1e3 for engine, times in cpus.items()}
            rows = len(answers["duckdb"])
            runs_done = len(walls["duckdb"])
            print(
                ratio_line(f"{name}, p50", p50, "ms")
                + f"  [{rows:,} rows, {runs_done} runs, load before {load:.2f}]"
            )
            print(ratio_line(f"{name}, CPU p50", cpu50, "ms"), flush=True)

    def fetcher(
        self, query: EventQuery, interval: Callable[[int], Interval]
    ) -> Callable[[str, int], list[Any]]:
        def run(engine: str, i: int) -> list[Any]:
            return self.stores[engine].fetch(self.org, query, interval(i), ZONE).data

        return run

    def chart(self, body: dict[str, Any]) -> Callable[[str, int], list[Any]]:
        """The chart's steps and links as comparable rows."""

        def run(engine: str, _i: int) -> list[Any]:
            response = self.clients[engine].post(self.chart_url, json=body, headers=self.headers)
            assert response.status_code == 200, response.text
            chart = response.json()
            return [
                [repr(step) for step in chart["steps"]],
                [repr(link) for link in chart["links"]],
            ]

        return run


def run_ingest(
    folder: Path, engines: list[str], server: str | None, events: int, rounds: int
) -> None:
    """``tallybook serve`` on a fresh store per run; PostgreSQL with 1 and 2 processes."""
    setups: list[tuple[str, int]] = [("duckdb", 1)]
    if "postgres" in engines:
        setups += [("postgres", 1), ("postgres", 2)]
    if "clickhouse" in engines:
        setups.append(("clickhouse", 1))
    rates: dict[str, list[float]] = {}
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("TALLYBOOK_")}
    for number in range(rounds):
        for engine, workers in setups:
            data = folder / f"ingest-{engine}-{workers}-{number}"
            env = {**base_env, "TALLYBOOK_DATA_DIR": str(data), "TALLYBOOK_SECRET_KEY": SECRET}
            if engine == "postgres":
                assert server is not None
                url = create_database(server, f"bench_ingest_{uuid.uuid4().hex[:8]}")
                env |= {"TALLYBOOK_DATABASE_URL": url, "TALLYBOOK_EVENTS_URL": url}
            elif engine == "clickhouse":
                env["TALLYBOOK_EVENTS_URL"] = f"chdb:///{data / 'clickhouse'}"
            database = None
            if engine == "postgres":
                database = postmaster_pid(
                    int(env["TALLYBOOK_DATABASE_URL"].rsplit(":", 1)[1].split("/")[0])
                )
            try:
                result = ingest(env, events=events, workers=workers, database_pid=database)
            finally:
                shutil.rmtree(data, ignore_errors=True)
                if engine == "postgres":
                    drop_database(env["TALLYBOOK_DATABASE_URL"])
            name = engine if workers == 1 else f"{engine}×{workers}"
            rates.setdefault(name, []).append(float(result["events_per_second"]))
            print(f"ingest {name:<12} round {number + 1}: {result}", flush=True)
    medians = {name: statistics.median(values) for name, values in rates.items()}
    print(ratio_line("HTTP ingest, events/s (median of rounds)", medians, "events/s", "{:,.0f}"))
    if "postgres×2" in medians:
        gain = medians["postgres×2"] / medians["postgres"]
        print(f"HTTP ingest on PostgreSQL, 2 API processes / 1: {gain:.2f}×")


if __name__ == "__main__":
    main()
