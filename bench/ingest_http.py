"""HTTP ingestion benchmark: 1,000-event batches through a real `tallybook serve`.

Starts the server on a fresh data directory (SQLite + DuckDB, unless the environment's
``TALLYBOOK_EVENTS_URL`` and ``TALLYBOOK_DATABASE_URL`` name other stores), creates an
organisation, then posts N events from concurrent client threads and reports sustained
events/s and the server's peak resident memory (VmHWM; with ``--workers`` above 1, the sum
over the API processes, and their CPU time summed too).

On the embedded default it then measures a floor in the same run: the same batches
appended by DuckDB's JSON reader directly (one ``INSERT … SELECT … FROM read_json`` and
commit per batch, from one thread, into a fresh file with Tallybook's events table; no
HTTP, no validation), and reports the HTTP rate as a share of it.

    python bench/ingest_http.py --events 2000000 --batch 1000 --concurrency 4
    TALLYBOOK_EVENTS_URL=postgresql://… TALLYBOOK_DATABASE_URL=postgresql://… \
        python bench/ingest_http.py --events 1000000 --workers 2
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import duckdb
import httpx
import orjson
from _common import busy_jiffies, free_port, tree_cpu_seconds, tree_peak_rss_mb

ROOT = Path(__file__).resolve().parent.parent
TALLYBOOK = [sys.executable, "-m", "tallybook"]


def admin(env: dict[str, str], *args: str) -> dict[str, str]:
    out = subprocess.run(
        [*TALLYBOOK, "admin", *args, "--json"], env=env, check=True, capture_output=True
    )
    return dict(json.loads(out.stdout))


def make_batches(org: str, batch: int, distinct: int, with_ids: bool) -> list[bytes]:
    rng = random.Random(7)
    now = time.time()
    bodies = []
    for _ in range(distinct):
        events = []
        for _ in range(batch):
            ts = now - rng.random() * 30 * 86400
            event = {
                "event_version": 1,
                "vendor": "com.example.shop",
                "category": rng.choice(["lead", "view", "sale", "chat"]),
                "action": rng.choice(["created", "clicked", "opened"]),
                "label": f"label-{rng.randrange(50)}",
                "organization_id": org,
                "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + "Z",
                "value": round(rng.random() * 100, 2),
                "visitor_id": f"v{rng.randrange(100_000)}",
                "session_id": f"s{rng.randrange(300_000)}",
                "dim1": rng.choice(["a", "b", "c"]),
                "browser_name": rng.choice(["Chrome", "Firefox", "Safari"]),
                "device_type": rng.choice(["desktop", "mobile", "tablet"]),
                "geo_country": rng.choice(["FI", "SE", "DE", "US"]),
                "properties": rng.sample(["p1", "p2", "p3", "p4"], k=rng.randrange(3)),
            }
            if with_ids:
                event["id"] = str(uuid.uuid4())
            events.append(event)
        bodies.append(orjson.dumps({"events": events}))
    return bodies


def append_floor(path: Path, *, events: int, batch: int, distinct: int, with_ids: bool) -> int:
    """Events/s of DuckDB's JSON reader appending the benchmark's batches directly: the
    same bodies (with the ``source`` and ``received_at`` the server adds), one statement
    and one durable commit per batch, into Tallybook's events table in a fresh file."""
    from tallybook.events.engines.duckdb.schema import table_ddl

    connection = duckdb.connect(str(path))
    connection.execute("SET TimeZone = 'UTC'")
    for statement in table_ddl():
        connection.execute(statement)
    table = connection.execute("DESCRIBE events").fetchall()
    types = {name: "TIMESTAMPTZ" if kind == "TIMESTAMP" else kind for name, kind, *_ in table}
    # the server fills these in SQL; here the batches carry them (made before the clock)
    lists = [name for name, kind, null, *_ in table if null == "NO" and kind.endswith("[]")]
    received = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    arrays = []
    for body in make_batches(str(uuid.uuid4()), batch, distinct, with_ids):
        rows = orjson.loads(body)["events"]
        for row in rows:
            row.update(source="untrusted", received_at=received)
            for name in lists:
                row.setdefault(name, [])
        arrays.append(orjson.dumps(rows))
    names = [name for name in types if name in orjson.loads(arrays[0])[0]]
    struct = ", ".join(f"'{name}': '{types[name]}'" for name in names)
    columns = ", ".join(f'"{name}"' for name in names)
    sql = (
        f"INSERT INTO events ({columns}) SELECT {columns}"
        f" FROM read_json($path, format := 'array', columns := {{{struct}}})"
    )
    spool = path.with_suffix(".json")
    start = time.perf_counter()
    for index in range(events // batch):
        spool.write_bytes(arrays[index % len(arrays)])
        connection.execute(sql, {"path": str(spool)})
    elapsed = time.perf_counter() - start
    stored = connection.execute("SELECT count(*) FROM events").fetchone()
    connection.close()
    assert stored is not None and stored[0] == events // batch * batch
    return round(int(stored[0]) / elapsed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=2_000_000, help="events to send in all")
    parser.add_argument("--batch", type=int, default=1000, help="events per request")
    parser.add_argument("--concurrency", type=int, default=4, help="client threads")
    parser.add_argument("--distinct", type=int, default=50, help="distinct batch bodies to cycle")
    parser.add_argument("--with-ids", action="store_true", help="give every event an id")
    parser.add_argument("--workers", type=int, default=1, help="API processes (serve --workers)")
    parser.add_argument("--port", type=int, default=0, help="default: a free one")
    parser.add_argument("--keep", action="store_true", help="keep the data directory")
    parser.add_argument(
        "--no-floor", action="store_true", help="skip the direct DuckDB append floor"
    )
    args = parser.parse_args()
    if args.with_ids and args.events > args.batch * args.distinct:
        sys.exit("--with-ids needs --distinct × --batch ≥ --events (ids must be new)")
    data_dir = Path(tempfile.mkdtemp(prefix="tallybook-bench-"))
    try:
        result = ingest(
            {**os.environ, "TALLYBOOK_DATA_DIR": str(data_dir)},
            events=args.events,
            batch=args.batch,
            concurrency=args.concurrency,
            distinct=args.distinct,
            with_ids=args.with_ids,
            workers=args.workers,
            port=args.port,
        )
        embedded = not os.environ.get("TALLYBOOK_EVENTS_URL")
        if embedded and not args.no_floor:
            floor = append_floor(
                data_dir / "floor.duckdb", events=args.events, batch=args.batch,
                distinct=args.distinct, with_ids=args.with_ids,
            )  # fmt: skip
            result["floor_events_per_second"] = floor
            result["http_share_of_floor"] = round(int(result["events_per_second"]) / floor, 2)
        print(json.dumps(result))
    finally:
        if not args.keep:
            shutil.rmtree(data_dir, ignore_errors=True)


def ingest(
    environment: dict[str, str],
    *,
    events: int,
    batch: int = 1000,
    concurrency: int = 4,
    distinct: int = 50,
    with_ids: bool = False,
    workers: int = 1,
    port: int = 0,
    database_pid: int | None = None,
) -> dict[str, float | int]:
    """Start ``tallybook serve`` with ``environment`` (its stores), post the events and
    stop the server; the measurements (with the CPU time of the database server whose
    main process is ``database_pid``, when given)."""
    env = {**environment, "TALLYBOOK_LOG_LEVEL": "warning"}
    org = admin(env, "create-org", "--name", "Bench")["id"]
    port = port or free_port()
    command = [*TALLYBOOK, "serve", "--no-worker", "--port", str(port)]
    if workers > 1:
        command += ["--workers", str(workers)]
    server = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            if server.poll() is not None:  # e.g. the port was taken: not our server
                sys.exit(f"tallybook serve exited with status {server.returncode}")
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        bodies = make_batches(org, batch, distinct, with_ids)
        requests = events // batch
        counter = iter(range(requests))
        lock = threading.Lock()
        stored = 0
        failures = 0

        def worker() -> None:
            nonlocal stored, failures
            with httpx.Client(base_url=base, timeout=60) as client:
                while True:
                    with lock:
                        index = next(counter, None)
                    if index is None:
                        return
                    response = client.post(
                        "/events/v2/store/untrusted",
                        content=bodies[index % len(bodies)],
                        headers={"Content-Type": "application/json"},
                    )
                    with lock:
                        if response.status_code == 200:
                            stored += response.json()["stored"]
                        else:
                            failures += 1

        load = os.getloadavg()[0]
        server_cpu, client_cpu = tree_cpu_seconds(server.pid), time.process_time()
        busy, total = busy_jiffies()
        database_cpu = tree_cpu_seconds(database_pid) if database_pid else 0.0
        start = time.perf_counter()
        threads = [threading.Thread(target=worker) for _ in range(concurrency)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - start
        server_cpu = tree_cpu_seconds(server.pid) - server_cpu
        client_cpu = time.process_time() - client_cpu
        busy_after, total_after = busy_jiffies()
        if database_pid:
            database_cpu = tree_cpu_seconds(database_pid) - database_cpu
        result: dict[str, float | int] = {
            "events_sent": requests * batch,
            "events_stored": stored,
            "failed_requests": failures,
            "seconds": round(elapsed, 2),
            "events_per_second": round(stored / elapsed),
            "server_peak_rss_mb": round(tree_peak_rss_mb(server.pid), 1),
            "server_cpu_ms_per_request": round(server_cpu / requests * 1e3, 2),
            "client_cpu_ms_per_request": round(client_cpu / requests * 1e3, 2),
            # every process's on the machine: the database server's, other users'
            "machine_cpu_busy_percent": round(100 * (busy_after - busy) / (total_after - total)),
            "load_average_before": round(load, 2),
            "batch": batch,
            "concurrency": concurrency,
            "workers": workers,
        }
        if database_pid:
            result["database_cpu_ms_per_request"] = round(database_cpu / requests * 1e3, 2)
        return result
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)


if __name__ == "__main__":
    main()
