"""Event-query latency through HTTP, against hand-written SQL run bare in DuckDB.

Load the data first (bench/generate_events.py, bench/bulk_load.py), e.g. 10,000,000
events of one organisation over 30 days from 2021-03-01, then:

    python bench/query.py --db ten.duckdb --repeat 30
    python bench/query.py --db ten.duckdb --repeat 30 --before-src ../before/src

Each server is a real ``tallybook serve --no-worker`` (uvicorn, SQLite, the organisation,
a user and a token made for the run) on its own copy of the DuckDB file; the benchmark
keeps a third copy for itself. Per query and per round it asks, each going first in turn:
each server over HTTP (``POST /api/events/v2/orgs/{org}/fetch``, one keep-alive
``http.client`` connection per server), Tallybook's store in this process (``fetch``, or
the worker's ``value()``, no HTTP), and
the hand-written SQL that answers the same question, run bare on a DuckDB cursor with its
values written in (what a person would type in the DuckDB shell). Warm-up rounds first
read every interval once (each contestant into its own buffers), and the first of them
checks that every answer equals the bare one. It reports p50 and p95 of each, its CPU per
call (the server's process, or this one; DuckDB's threads included) and the ratio of its
p50 to the bare SQL's p50 in the same run. For the fetches it also times an empty HTTP
round trip (``GET /healthz``) in the same rotation and prints the floor: the bare SQL's
p50 plus that round trip's. ``--before-src`` starts a second server on
another source tree (e.g. an export of an earlier commit's ``src``), so before and after
are measured side by side.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple

import httpx
from _common import cpu_seconds, free_port, machine

from tallybook.auth.service import create_token
from tallybook.events.engines.duckdb.store import DuckDBEventStore
from tallybook.events.generate import organization_ids
from tallybook.events.query.language import EventQuery, Interval
from tallybook.kit.db import Database
from tallybook.kit.migrate import upgrade
from tallybook.organizations.models import Organization
from tallybook.organizations.service import create_user
from tallybook.settings import Settings

ZONE = "Europe/Helsinki"
VENDOR = "com.giosg.chat"
TALLYBOOK = [sys.executable, "-m", "tallybook"]
Rows = list[tuple[Any, ...]]


@dataclass
class Case:
    """A question: the fetch payload (without interval), its interval in round ``i``, and
    the hand-written SQL for that interval."""

    name: str
    payload: dict[str, Any]
    interval: Callable[[int], Interval]
    bare_sql: Callable[[Interval], str]
    warmup: int
    """Rounds before timing: every interval once, so that each contestant has read all
    the data it will be timed on into its own buffers."""
    value_of: str | None = None
    """Not a fetch but the worker's ``value()`` of this aggregation (no HTTP)."""


class Answer(NamedTuple):
    rows: list[Any]
    wall: float
    cpu: float


@dataclass
class Timings:
    walls: list[float] = field(default_factory=list)
    cpu: float = 0.0

    def line(self, name: str, bare: float | None) -> str:
        p50 = statistics.median(self.walls)
        p95 = sorted(self.walls)[max(0, int(len(self.walls) * 0.95) - 1)]
        cpu = self.cpu / len(self.walls)
        ratio = f"{p50 / bare:5.2f}" if bare else "    –"
        return (
            f"  {name:<22} p50 {p50 * 1e3:8.1f} ms  p95 {p95 * 1e3:8.1f} ms"
            f"  CPU {cpu * 1e3:8.1f} ms  × bare {ratio}"
        )


@dataclass
class Server:
    label: str
    base: str
    headers: dict[str, str]
    pid: int
    connection: http.client.HTTPConnection
    """The keep-alive client: ``http.client``, whose 0.2 ms of CPU per request is a third of
    httpx's, so that the client takes less of the two cores from the server it times."""


def utc_text(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def scope_sql(org: uuid.UUID, window: Interval) -> str:
    return (
        f"organization_id = '{org}' AND vendor = '{VENDOR}'"
        f" AND timestamp >= TIMESTAMP '{utc_text(window.start)}'"
        f" AND timestamp < TIMESTAMP '{utc_text(window.end)}'"
    )


def cases(org: uuid.UUID, start: datetime) -> list[Case]:
    month = Interval(start=start, end=start + timedelta(days=30))

    def day(i: int) -> Interval:
        """The i-th local day (Helsinki, +02:00 before the DST change) of 28, cycling, so
        each round reads other data."""
        first = start.replace(hour=0) - timedelta(hours=2) + timedelta(days=i % 28)
        return Interval(start=first, end=first + timedelta(days=1))

    def target(window: Interval) -> str:
        return f"SELECT count(*) FROM events WHERE {scope_sql(org, window)} AND category = 'widget'"

    def hourly(window: Interval) -> str:
        # Helsinki's offsets are whole hours: its hours are UTC hours
        return (
            "SELECT date_trunc('hour', timestamp) AS hour, category, device_type, count(*)"
            f" FROM events WHERE {scope_sql(org, window)} GROUP BY ALL ORDER BY ALL NULLS FIRST"
        )

    def daily(window: Interval) -> str:
        local = f"timezone('{ZONE}', timezone('UTC', timestamp))"
        return (
            f"SELECT date_trunc('day', {local}) AS day, property,"
            " count(*), sum(value), count(DISTINCT visitor_id)"
            " FROM (SELECT *, unnest(CASE WHEN len(properties) = 0 THEN [NULL]"
            " ELSE properties END) AS property"
            f" FROM events WHERE {scope_sql(org, window)})"
            " GROUP BY ALL ORDER BY ALL NULLS FIRST"
        )

    selector = {"type": "selector", "dimension": "category", "value": "widget"}
    return [
        Case("target: count, selector, one day", {"filters": selector}, day, target, 28),
        Case("value(): count, selector, one day", {"filters": selector}, day, target, 28, "count"),
        Case(
            "hourly, group_by 2 dims, 30 days",
            {"granularity": "hour", "group_by": ["category", "device_type"]},
            lambda _i: month,
            hourly,
            2,
        ),
        Case(
            "daily, group_by properties, 3 metrics, 30 days",
            {
                "granularity": "day",
                "group_by": ["properties"],
                "aggregations": ["count", "sum", "visitor_id_uniq"],
            },
            lambda _i: month,
            daily,
            2,
        ),
    ]


def prepare_data_dir(db: Path, directory: Path, org: uuid.UUID) -> str:
    """A data directory with a copy of the event file and an organisation (``org``, in
    Helsinki) whose reporting user's token is returned."""
    shutil.copyfile(db, directory / "events.duckdb")
    settings = Settings(data_dir=directory, _env_file=None)
    database = Database(settings)
    try:
        upgrade(database.engine)
        with database.unit_of_work() as session:
            session.add(Organization(id=org, name="Bench", timezone=ZONE))
            session.flush()
            user = create_user(session, org, "bench@example.com", permissions=["reporting"])
            return create_token(session, user.id)
    finally:
        database.close()


@contextmanager
def server(
    label: str, db: Path, org: uuid.UUID, src: Path | None, memory_limit: str | None
) -> Iterator[Server]:
    with tempfile.TemporaryDirectory(prefix="tallybook-bench-") as directory:
        token = prepare_data_dir(db, Path(directory), org)
        env = {
            **os.environ,
            "TALLYBOOK_DATA_DIR": directory,
            "TALLYBOOK_LOG_LEVEL": "warning",
        }
        if memory_limit:  # a server older than the setting ignores it
            env["TALLYBOOK_DUCKDB_MEMORY_LIMIT"] = memory_limit
        if src is not None:
            env["PYTHONPATH"] = str(src.resolve())
        port = free_port()
        process = subprocess.Popen(
            [*TALLYBOOK, "serve", "--no-worker", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            wait_until_up(process, base)
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
            try:
                yield Server(
                    label, base, {"Authorization": f"Token {token}"}, process.pid, connection
                )
            finally:
                connection.close()
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)


def wait_until_up(process: subprocess.Popen[bytes], base: str) -> None:
    for _ in range(300):
        if process.poll() is not None:
            sys.exit(f"tallybook serve exited with status {process.returncode}")
        try:
            httpx.get(f"{base}/healthz", timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    sys.exit("tallybook serve did not answer in 60 s")


def comparable(rows: list[Any]) -> list[tuple[Any, ...]]:
    """Rows without their bucket, numbers rounded: the engines sum doubles in any order."""

    def value(v: Any) -> Any:
        return float(f"{v:.9g}") if isinstance(v, float) else v

    return [tuple(value(v) for v in row[1:]) for row in rows]


def run_case(
    case: Case,
    org: uuid.UUID,
    servers: list[Server],
    store: DuckDBEventStore,
    repeat: int,
) -> None:
    http = [s.label for s in servers] if case.value_of is None else []
    timings = {name: Timings() for name in [*http, "in process", "bare"]}
    if case.value_of is None:
        timings[EMPTY] = Timings()
    query = EventQuery.model_validate({"vendor": VENDOR, **case.payload})
    with store.cursor() as cursor:

        def in_process(window: Interval) -> Answer:
            cpu, started = time.process_time(), time.perf_counter()
            rows: list[Any]
            if case.value_of is None:
                rows = store.fetch(org, query, window, ZONE).data
            else:
                value = store.value(org, query, window.start, window.end, case.value_of)
                rows = [] if value is None else [(None, value)]
            return Answer(rows, time.perf_counter() - started, time.process_time() - cpu)

        def bare(window: Interval) -> Answer:
            cpu, started = time.process_time(), time.perf_counter()
            rows: Rows = cursor.execute(case.bare_sql(window)).fetchall()
            wall, cpu = time.perf_counter() - started, time.process_time() - cpu
            return Answer(comparable_bare(case, rows), wall, cpu)

        contestants: list[tuple[str, Callable[[Interval], Answer]]] = [
            *(
                (s.label, partial(over_http, s, org, case.payload))
                for s in (servers if case.value_of is None else [])
            ),
            ("in process", in_process),
            ("bare", bare),
        ]
        if case.value_of is None:
            contestants.append((EMPTY, partial(empty_round_trip, servers[-1])))
        for i in range(-case.warmup, repeat):
            window = case.interval(i)
            turn = i % len(contestants)  # each goes first in turn
            answers: dict[str, list[Any]] = {}
            for name, contestant in contestants[turn:] + contestants[:turn]:
                answer = contestant(window)
                answers[name] = answer.rows
                if i >= 0:
                    timings[name].walls.append(answer.wall)
                    timings[name].cpu += answer.cpu
            if i == -case.warmup:
                check(case, answers)
    rows = len(answers["bare"])
    print(f"{case.name} ({rows:,} rows)")
    bare_p50 = statistics.median(timings["bare"].walls)
    for name, timing in timings.items():
        print(timing.line(name, None if name in ("bare", EMPTY) else bare_p50))
    if EMPTY in timings:
        floor = bare_p50 + statistics.median(timings[EMPTY].walls)
        print(
            f"  {'floor':<22} p50 {floor * 1e3:8.1f} ms  (bare + {EMPTY}){' ' * 14}"
            f"× bare {floor / bare_p50:5.2f}"
        )


def over_http(s: Server, org: uuid.UUID, payload: dict[str, Any], window: Interval) -> Answer:
    """The server's answer, timed until its last byte has arrived (parsing it is the
    client's business, as turning DuckDB's rows into tuples is the bare SQL's), and the
    CPU the server's process spent on it."""
    body = {
        **payload,
        "vendor": VENDOR,
        "interval": {
            "start": window.start.isoformat(),
            "end": window.end.isoformat(),
            "time_zone": ZONE,
        },
    }
    answer, wall, cpu = timed_request(
        s,
        "POST",
        f"/api/events/v2/orgs/{org}/fetch",
        json.dumps(body).encode(),
        {**s.headers, "Content-Type": "application/json"},
    )
    return Answer(json.loads(answer)["data"], wall, cpu)


EMPTY = "GET /healthz"
"""The empty round trip: the newest server's health check (no token, no store, one trip
to the thread pool), timed in the same rotation as the queries. The bare SQL's time plus
this one is what a query through HTTP would take if Tallybook's own work cost nothing."""


def empty_round_trip(s: Server, _window: Interval) -> Answer:
    _answer, wall, cpu = timed_request(s, "GET", "/healthz")
    return Answer([], wall, cpu)


def timed_request(
    s: Server,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[bytes, float, float]:
    """The answer of a 200, its wall time until the last byte arrived, and the CPU the
    server's process spent meanwhile; any other status ends the benchmark."""
    cpu, started = cpu_seconds(s.pid), time.perf_counter()
    s.connection.request(method, path, body=body, headers=headers or {})
    response = s.connection.getresponse()
    answer = response.read()
    wall, cpu = time.perf_counter() - started, cpu_seconds(s.pid) - cpu
    if response.status != 200:
        sys.exit(f"{s.label}: {method} {path}: HTTP {response.status}: {answer[:500]!r}")
    return answer, wall, cpu


def comparable_bare(case: Case, rows: Rows) -> list[Any]:
    """The bare rows shaped as the API's: a leading bucket, no row for an empty count."""
    if case.payload.get("granularity", "all") == "all":
        return [(None, *row) for row in rows if row[0]]
    return rows


def check(case: Case, answers: dict[str, list[Any]]) -> None:
    expected = comparable(answers["bare"])
    for name, data in answers.items():
        if name != EMPTY and comparable(data) != expected:
            sys.exit(f"{case.name}: {name} answered differently from the bare SQL")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--db", type=Path, default=Path("bench-events.duckdb"))
    parser.add_argument("--org", type=uuid.UUID, default=None, help="default: the seed's first")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--start", default="2021-03-01", help="first day of the data (UTC)")
    parser.add_argument("--repeat", type=int, default=30, help="rounds per query")
    parser.add_argument(
        "--before-src",
        type=Path,
        default=None,
        help="a second server runs the tallybook package found in this src directory",
    )
    parser.add_argument(
        "--only", default=None, help="run only the queries whose name starts with this"
    )
    parser.add_argument(
        "--memory-limit",
        help="DuckDB's memory_limit (e.g. 256MB) for every contestant: the servers get it as "
        "TALLYBOOK_DUCKDB_MEMORY_LIMIT",
    )
    args = parser.parse_args()

    org = args.org or organization_ids(1, args.seed)[0]
    start = datetime.fromisoformat(args.start).replace(tzinfo=UTC)
    print(machine())
    print(f"DuckDB memory_limit: {args.memory_limit or 'DuckDB default'}")
    with ExitStack() as stack:
        directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="tallybook-")))
        servers = []
        if args.before_src is not None:
            servers.append(
                stack.enter_context(
                    server("HTTP, before", args.db, org, args.before_src, args.memory_limit)
                )
            )
        servers.append(stack.enter_context(server("HTTP", args.db, org, None, args.memory_limit)))
        shutil.copyfile(args.db, directory / "bare.duckdb")
        store = DuckDBEventStore(directory / "bare.duckdb", memory_limit=args.memory_limit)
        stack.callback(store.close)
        with store.cursor() as cursor:
            total = cursor.execute("SELECT count(*) FROM events").fetchone()
        print(f"{args.db}: {total[0] if total else 0:,} events; organisation {org}; zone {ZONE}")
        for case in cases(org, start):
            if args.only is None or case.name.startswith(args.only):
                run_case(case, org, servers, store, args.repeat)
    print("load average after the run " + ", ".join(f"{v:.2f}" for v in os.getloadavg()))


if __name__ == "__main__":
    main()
