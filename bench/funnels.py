"""Workflow reporting at 10 M events: step source data, the funnel chart, a CSV download.

Builds (once; ``--data-dir`` keeps it for the next run) a data directory holding one
organisation, an interaction workflow and ``--events`` events over 30 days, of which
``--sessions`` workflow sessions carry the step and goal events and the rest are the
generator's ordinary events (``tallybook.events.generate``, the same as the event-store
benchmarks). Each session starts at a random time, has 1-11 events at step 0 (the source)
and 1-3 at each later step it reaches, going on after each step with probability 0.75
(5 steps, 3 actions per step: ``view-<step>-<0..2>``); a tenth of the sessions carry
another workflow's id; three in ten of those reaching step 2 end with a goal event.

Then, all through the HTTP app with a real token:

(a) step source data of step 3 with a three-step path (steps 1-3 list 2 of their 3
    actions), the first 1,000 rows: the ASGI app in this process, p50 and p95;
(b) the funnel chart (``…/query/``) over the 30 days, without a path and with the same
    three-step path, alternating with
(c) the same chart as hand-written DuckDB SQL run on the same store (the app's own
    database, a cursor of it), and the ratio of the medians;
(d) a 1,000,000-row CSV download of step 0 from a real ``tallybook serve`` process,
    twice (the first fills DuckDB's cache of the table's blocks): rows/s, the server's
    CPU, and the growth of its resident memory (VmHWM reset before each download).

Targets (issue 10): (a) p50 < 300 ms, (b) p50 < 800 ms, (c) ≤ 1.5×, (d) ≥ 100,000
rows/s with the server's RSS growing < 100 MB.

    .venv/bin/python bench/funnels.py --data-dir ../funnels-10m --repeat 10
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import duckdb
import httpx
from fastapi.testclient import TestClient

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _common import cpu_seconds, free_port, machine  # noqa: E402
from tests.fixtures.tenants import make_tenant  # noqa: E402

from tallybook.app import create_app  # noqa: E402
from tallybook.events.bulk import load_file  # noqa: E402
from tallybook.events.engines.duckdb.schema import DUCKDB_CONFIG  # noqa: E402
from tallybook.events.generate import Spec, events_sql  # noqa: E402
from tallybook.events.query.columns import COLUMNS  # noqa: E402
from tallybook.kit.db import Database  # noqa: E402
from tallybook.kit.migrate import upgrade  # noqa: E402
from tallybook.settings import Settings  # noqa: E402

SECRET = "bench-secret-key"
START = datetime(2021, 3, 1, tzinfo=UTC)
DAYS = 30
STEPS = 5
SETUP_FILE = "funnels-bench.json"
INTERVAL = {"start": START.isoformat(), "end": (START + timedelta(days=DAYS)).isoformat()}
PATH: list[dict[str, list[str]]] = [
    {"actions": []},
    *({"actions": [f"view-{k}-0", f"view-{k}-1"]} for k in (1, 2, 3)),
]


@dataclass(frozen=True)
class Setup:
    events: int
    sessions: int
    step_events: int
    goal_events: int
    organization_id: str
    workflow_id: str
    token: str


# -- the data -----------------------------------------------------------------------------


def _u(k: int, row: str) -> str:
    """A uniform number in [0, 1) for ``row``, independent for each ``k``."""
    return f"((hash({row} * 64 + {k} + 987654321) >> 11)::DOUBLE / 9007199254740992.0)"


def workflow_sql(sessions: int) -> str:
    """The workflow's step and goal events (columns ``w_*``), parameters $wf, $other."""
    start = START.replace(tzinfo=None).isoformat(sep=" ")
    span = (DAYS * 86400 - 7200) * 1_000_000
    whens = " ".join(f"WHEN {_u(k, 's')} >= 0.75 THEN {k - 1}" for k in range(1, STEPS))
    depth = f"CASE {whens} ELSE {STEPS - 1} END"
    later = f"1 + floor({_u(9, 's * 8 + k')} * 3)"
    count = f"CASE WHEN k = 0 THEN 1 + floor({_u(8, 's')} * 11) ELSE {later} END"
    visitors = max(1, sessions // 2)
    return f"""
    WITH sessions AS (
        SELECT s, {depth} AS depth,
            TIMESTAMP '{start}' + to_microseconds(CAST({_u(5, "s")} * {span} AS BIGINT)) AS began,
            CASE WHEN {_u(6, "s")} < 0.9 THEN $wf ELSE $other END AS label,
            'wf-visitor-' || CAST(floor({_u(7, "s")} * {visitors}) AS BIGINT) AS visitor,
            {_u(30, "s")} < 0.3 AS goal
        FROM range({int(sessions)}) AS r(s)
    ), steps AS (
        SELECT s, k, j, began + to_microseconds((k * 150 + j * 10) * 1000000
                + CAST({_u(10, "s * 256 + k * 16 + j")} * 5000000 AS BIGINT)) AS w_timestamp,
            'interaction' AS w_category, 'com.giosg.interaction' AS w_vendor,
            'view-' || k || '-' || CAST(floor({_u(11, "s * 256 + k * 16 + j")} * 3) AS BIGINT)
                AS w_action,
            label AS w_label, 'Step ' || k AS w_dim4, CAST(k AS VARCHAR) AS w_dim5,
            'wf-session-' || s AS w_session_id, visitor AS w_visitor_id
        FROM sessions, range({STEPS}) AS t(k), range(11) AS e(j)
        WHERE k <= depth AND j < {count}
    ), goals AS (
        SELECT s, 99 AS k, 0 AS j,
            began + to_microseconds((depth * 150 + 120) * 1000000) AS w_timestamp,
            'goal' AS w_category, 'com.giosg.goals' AS w_vendor, 'reached' AS w_action,
            'goal-1' AS w_label, NULL::VARCHAR AS w_dim4, NULL::VARCHAR AS w_dim5,
            'wf-session-' || s AS w_session_id, visitor AS w_visitor_id
        FROM sessions WHERE depth >= 2 AND goal
    )
    SELECT * FROM (SELECT * FROM steps UNION ALL SELECT * FROM goals) ORDER BY s, k, j
    """


def write_events(
    path: Path, setup_events: int, sessions: int, org: str, wf: str
) -> tuple[int, int]:
    """The events as one Parquet file in time order; (step events, goal events)."""
    with duckdb.connect(config=DUCKDB_CONFIG) as db:
        db.execute("SET TimeZone = 'UTC'")
        db.execute("SET enable_progress_bar = false")
        params = {"wf": wf, "other": str(uuid.uuid4())}
        db.execute(f"CREATE TEMP TABLE wf AS {workflow_sql(sessions)}", params)
        count = db.execute("SELECT count(*) FROM wf").fetchone()
        goals = db.execute("SELECT count(*) FROM wf WHERE w_category = 'goal'").fetchone()
        assert count is not None and goals is not None
        workflow, goal_events = int(count[0]), int(goals[0])
        if workflow >= setup_events:
            raise SystemExit(f"{workflow:,} workflow events: ask for more --events")
        filler = Spec(events=workflow, organizations=1, days=DAYS, start=START, seed=2)
        ordinary = Spec(events=setup_events - workflow, organizations=1, days=DAYS, start=START)
        overrides = {
            "timestamp": "w_timestamp::TIMESTAMPTZ",
            "received_at": "w_timestamp::TIMESTAMPTZ",
            "id": "NULL::UUID",
            "source": "'trusted'",
            "event_version": "1",
            **{name: f"w_{name}" for name in ("vendor", "category", "action", "label")},
            **{name: f"w_{name}" for name in ("dim4", "dim5", "session_id", "visitor_id")},
        }
        items = ", ".join(f'{overrides.get(n, f"g.{n}")} AS "{n}"' for n in COLUMNS)
        workflow_rows = (
            f"SELECT {items} FROM (SELECT * FROM wf ORDER BY s, k, j) "
            f"POSITIONAL JOIN ({events_sql(filler, for_json=False)}) AS g"
        )
        db.execute(
            f"COPY (SELECT * FROM ({events_sql(ordinary, for_json=False)} UNION ALL "
            f'{workflow_rows}) ORDER BY "timestamp") TO $path (FORMAT parquet, COMPRESSION zstd)',
            {"organizations": [uuid.UUID(org)], "path": str(path)},
        )
    return workflow - goal_events, goal_events


def prepare(data_dir: Path, events: int, sessions: int) -> Setup:
    """The data directory's setup, made now unless it was made for these numbers."""
    recorded = data_dir / SETUP_FILE
    if recorded.exists():
        setup = Setup(**json.loads(recorded.read_text()))
        if (setup.events, setup.sessions) == (events, sessions):
            print(f"reusing the data directory: {setup.events:,} events")
            return setup
        raise SystemExit("the data directory holds another size: use another --data-dir")
    if data_dir.exists() and any(data_dir.iterdir()):
        raise SystemExit("--data-dir must be new or empty")
    data_dir.mkdir(parents=True, exist_ok=True)
    settings = _settings(data_dir)
    database = Database(settings)
    upgrade(database.engine)
    tenant = make_tenant(database)
    app = create_app(settings, database)
    began = time.perf_counter()
    with TestClient(app) as client:
        response = client.post(
            f"{tenant.objectives}/workflows",
            json={"name": "Bench funnel", "type": "interaction"},
            headers=tenant.headers,
        )
        assert response.status_code == 201, response.text
        wf = response.json()["id"]
        parquet = data_dir / "events.parquet"
        steps, goals = write_events(parquet, events, sessions, str(tenant.org_id), wf)
        print(
            f"wrote {events:,} events ({steps:,} step, {goals:,} goal) in "
            f"{time.perf_counter() - began:.1f} s"
        )
        result = load_file(app.state.event_store, parquet)
        parquet.unlink()
        print(f"loaded {result.stored:,} events; {time.perf_counter() - began:.1f} s in all")
    database.close()
    setup = Setup(events, sessions, steps, goals, str(tenant.org_id), wf, tenant.token)
    recorded.write_text(json.dumps(asdict(setup)))
    return setup


def _settings(data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir, secret_key=SECRET, log_level="warning", _env_file=None)


# -- (a), (b), (c): the HTTP app in this process, and bare SQL beside it -------------------


def bare_chart(org: str, wf: str, path: bool) -> str:
    """The funnel chart as one would write it by hand for DuckDB: one read of the
    workflow's step events, the path as window aggregates over the session, the events
    reduced to one row per step, action and session (and per step, action and visitor)
    before the distinct counts, the links a join of the per-session rows."""
    start, end = START.replace(tzinfo=None), (START + timedelta(days=DAYS)).replace(tzinfo=None)
    where = (
        f"organization_id = '{org}' AND timestamp >= '{start}' AND timestamp < '{end}' "
        f"AND label = '{wf}' AND dim5 IS NOT NULL"
    )
    if path:
        listed = {k: list(PATH[k]["actions"]) for k in (1, 2, 3)}
        is_in = {k: "(" + ", ".join(f"'{a}'" for a in listed[k]) + ")" for k in listed}
        firsts = ", ".join(
            f"min(timestamp) FILTER (WHERE dim5 = '{k}' AND action IN {is_in[k]}) "
            f"OVER (PARTITION BY session_id) AS p{k}"
            for k in (1, 2, 3)
        )
        rule = (
            f"CASE dim5 WHEN '0' THEN true WHEN '1' THEN action IN {is_in[1]} "
            f"WHEN '2' THEN action IN {is_in[2]} AND p1 <= timestamp "
            f"WHEN '3' THEN action IN {is_in[3]} AND p1 <= timestamp AND p2 <= timestamp "
            "ELSE p1 <= timestamp AND p2 <= timestamp AND p3 <= timestamp END"
        )
        chart = (
            f"SELECT * FROM (SELECT dim5, action, dim4, visitor_id, session_id, timestamp, "
            f"{firsts} FROM events WHERE {where}) WHERE {rule}"
        )
    else:
        columns = "dim5, action, dim4, visitor_id, session_id, timestamp"
        chart = f"SELECT {columns} FROM events WHERE {where}"
    return f"""
    WITH chart AS MATERIALIZED ({chart}),
    per_session AS MATERIALIZED (
        SELECT dim5, action, session_id, count(*) AS n, min(timestamp) AS first,
            max(timestamp) AS last, min(dim4) AS name
        FROM chart GROUP BY ALL
    ),
    per_visitor AS MATERIALIZED (SELECT dim5, action, visitor_id FROM chart GROUP BY ALL)
    SELECT 'action', dim5, action, NULL, NULL, sum(n), count(session_id), min(name)
    FROM per_session GROUP BY ALL
    UNION ALL
    SELECT 'step', dim5, NULL, NULL, NULL, sum(n), count(DISTINCT session_id), min(name)
    FROM per_session GROUP BY ALL
    UNION ALL
    SELECT 'action visitors', dim5, action, NULL, NULL, NULL, count(visitor_id), NULL
    FROM per_visitor GROUP BY ALL
    UNION ALL
    SELECT 'step visitors', dim5, NULL, NULL, NULL, NULL, count(DISTINCT visitor_id), NULL
    FROM per_visitor GROUP BY ALL
    UNION ALL
    SELECT 'link', x.dim5, x.action, y.dim5, y.action, count(*), count(*), NULL
    FROM per_session x JOIN per_session y ON y.session_id = x.session_id
        AND y.dim5 = CAST(TRY_CAST(x.dim5 AS INTEGER) + 1 AS VARCHAR) AND y.last >= x.first
    GROUP BY ALL
    """


@dataclass
class Timed:
    name: str
    walls: list[float]
    cpus: list[float]

    def p(self, q: float) -> float:
        ordered = sorted(self.walls)
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]

    def line(self) -> str:
        return (
            f"  {self.name:44} p50 {self.p(0.5) * 1e3:8.1f} ms  p95 {self.p(0.95) * 1e3:8.1f} ms"
            f"  max {max(self.walls) * 1e3:8.1f} ms  CPU p50 {statistics.median(self.cpus):6.2f} s"
        )


def timed(runs: dict[str, Timed], name: str, call: Callable[[], Any]) -> Any:
    """Time one call, wall and this process's CPU (DuckDB's threads included)."""
    wall, cpu = time.perf_counter(), time.process_time()
    out = call()
    runs.setdefault(name, Timed(name, [], [])).walls.append(time.perf_counter() - wall)
    runs[name].cpus.append(time.process_time() - cpu)
    return out


def in_process(data_dir: Path, setup: Setup, repeat: int) -> None:
    settings = _settings(data_dir)
    database = Database(settings)
    app = create_app(settings, database)
    headers = {"Authorization": f"Token {setup.token}"}
    base = f"/api/reporting/workflow/v1/orgs/{setup.organization_id}/workflows/{setup.workflow_id}"
    step3 = {"filters": [], "interval": INTERVAL, "step_data": PATH, "limit": 1000}
    charts: dict[str, dict[str, Any]] = {
        "no path": {"filters": [], "interval": INTERVAL},
        "three-step path": {"filters": [], "interval": INTERVAL, "step_data": PATH},
    }
    runs: dict[str, Timed] = {}
    with TestClient(app) as client:
        store = app.state.event_store

        def post(url: str, body: dict[str, Any]) -> Any:
            response = client.post(base + url, json=body, headers=headers)
            assert response.status_code == 200, response.text
            return response.json()

        def bare(sql: str) -> list[tuple[Any, ...]]:
            with store.cursor() as cursor:
                return list(cursor.execute(sql).fetchall())

        rows = post("/step/3", step3)["data"]  # warm-up, and a check
        print(f"(a) step 3, three-step path, limit 1000: {len(rows)} rows")
        for _ in range(repeat):
            timed(runs, "(a) step 3 source data, first 1,000 rows", lambda: post("/step/3", step3))
        for name, body in charts.items():
            sql = bare_chart(setup.organization_id, setup.workflow_id, "step_data" in body)
            chart, hand = post("/query", body), bare(sql)
            sessions = [step["sessions"] for step in chart["steps"]]
            by_hand = sorted((r[1], r[6]) for r in hand if r[0] == "step")
            assert [s for _step, s in by_hand] == sessions, (by_hand, sessions)
            links = sum(1 for r in hand if r[0] == "link")
            assert links == len(chart["links"]), (links, len(chart["links"]))
            print(
                f"(b) chart, {name}: sessions per step {sessions}, {links} links (bare SQL agrees)"
            )
            for _ in range(repeat):
                timed(runs, f"(b) chart, {name}", partial(post, "/query", body))
                timed(runs, f"(c) bare DuckDB SQL, {name}", partial(bare, sql))
    database.close()
    for run in runs.values():
        print(run.line())
    for name in charts:
        ours, theirs = runs[f"(b) chart, {name}"], runs[f"(c) bare DuckDB SQL, {name}"]
        print(f"  ratio chart / bare SQL, {name}: {ours.p(0.5) / theirs.p(0.5):.2f} (p50s)")


# -- (d): a CSV download from a real server -----------------------------------------------


def _status(pid: int, field: str) -> float:
    """A ``/proc/<pid>/status`` memory field in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise KeyError(field)


def download(data_dir: Path, setup: Setup, rows: int, port: int, memory_limit: str | None) -> None:
    env = {
        **os.environ,
        "TALLYBOOK_DATA_DIR": str(data_dir),
        "TALLYBOOK_SECRET_KEY": SECRET,
        "TALLYBOOK_LOG_LEVEL": "warning",
    }
    if memory_limit:
        env["TALLYBOOK_DUCKDB_MEMORY_LIMIT"] = memory_limit
    print(f"(d) the server's DuckDB memory_limit: {memory_limit or 'DuckDB default'}")
    port = port or free_port()
    command = [sys.executable, "-m", "tallybook", "serve", "--no-worker", "--port", str(port)]
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    url = (
        f"http://127.0.0.1:{port}/api/reporting/workflow/v1/orgs/{setup.organization_id}"
        f"/workflows/{setup.workflow_id}/step/0"
    )
    headers = {"Authorization": f"Token {setup.token}"}
    try:
        with httpx.Client(timeout=600) as client:
            for _ in range(150):
                if server.poll() is not None:  # e.g. the port was taken: not our server
                    sys.exit(f"tallybook serve exited with status {server.returncode}")
                try:
                    client.get(f"http://127.0.0.1:{port}/healthz")
                    break
                except httpx.HTTPError:
                    time.sleep(0.2)
            warm = {"filters": [], "interval": INTERVAL, "limit": 1000, "format": "csv"}
            client.post(url + "/download", json=warm, headers=headers).raise_for_status()
            body = {"filters": [], "interval": INTERVAL, "limit": rows, "format": "csv"}
            for run in ("first (DuckDB's block cache cold)", "again (cache warm)"):
                _download(client, server.pid, url + "/download", body, headers, run)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)


def _download(
    client: httpx.Client,
    pid: int,
    url: str,
    body: dict[str, Any],
    headers: dict[str, str],
    run: str,
) -> None:
    before = _status(pid, "VmRSS")
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # VmHWM := VmRSS
    cpu, load = cpu_seconds(pid), os.getloadavg()[0]
    began = time.perf_counter()
    lines = size = 0
    first_byte = None
    with client.stream("POST", url, json=body, headers=headers) as answer:
        answer.raise_for_status()
        for chunk in answer.iter_bytes():
            if first_byte is None:
                first_byte = time.perf_counter() - began
            lines += chunk.count(b"\n")
            size += len(chunk)
    seconds = time.perf_counter() - began
    cpu = cpu_seconds(pid) - cpu
    peak = _status(pid, "VmHWM")
    data_rows = lines - 1  # the header
    print(
        f"(d) CSV download of step 0 from `tallybook serve`, {run} (load before {load:.2f}): "
        f"{data_rows:,} rows, {size / 2**20:,.0f} MB in {seconds:.2f} s = "
        f"{data_rows / seconds:,.0f} rows/s (first byte after {first_byte or 0:.2f} s); "
        f"server CPU {cpu:.2f} s = {data_rows / cpu:,.0f} rows per CPU-second; "
        f"server RSS {before:,.0f} MB before, peak {peak:,.0f} MB: grew {peak - before:,.0f} MB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, required=True, help="made once, then reused")
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--sessions", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=20, help="runs of each timed request")
    parser.add_argument("--download-rows", type=int, default=1_000_000)
    parser.add_argument("--port", type=int, default=0, help="default: a free one")
    parser.add_argument(
        "--memory-limit",
        help="TALLYBOOK_DUCKDB_MEMORY_LIMIT for the download's server (e.g. 256MB)",
    )
    parser.add_argument(
        "--skip", action="append", default=[], choices=("queries", "download"), help="repeatable"
    )
    args = parser.parse_args()
    print(machine())
    print(f"command: {' '.join(sys.argv)}")
    setup = prepare(args.data_dir, args.events, args.sessions)
    print(
        f"{setup.events:,} events, {setup.sessions:,} workflow sessions: "
        f"{setup.step_events:,} step events, {setup.goal_events:,} goal events"
    )
    if "queries" not in args.skip:
        in_process(args.data_dir, setup, args.repeat)
    if "download" not in args.skip:
        download(args.data_dir, setup, args.download_rows, args.port, args.memory_limit)
    print("load average after:", ", ".join(f"{v:.2f}" for v in os.getloadavg()))


if __name__ == "__main__":
    main()
