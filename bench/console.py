"""Server-side latency of every console page on the demo organisation, and the event
store round trips each makes.

Loads the demo (as ``make run`` does) into a fresh data directory, runs one worker pass
(the targets' closed periods are evaluated, the snapshot cards sent to the demo chat),
signs in through the sign-in form, then requests each page ``--repeat`` times in process
through the whole ASGI app (middlewares, session cookie, templates) after ``--warmup``
requests, and prints p50, p95 and the worst wall time, the CPU time per request, and the
statements each page sent to the event store (``execute`` and ``execute_batches`` calls).

    .venv/bin/python bench/console.py --repeat 100
"""

from __future__ import annotations

import argparse
import io
import os
import re
import statistics
import tempfile
import time
from collections.abc import Callable
from contextlib import redirect_stdout
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from _common import machine
from fastapi.testclient import TestClient

from tallybook.app import create_app
from tallybook.demo import load_demo
from tallybook.events.store import EventStore, open_event_store
from tallybook.files.store import open_file_store
from tallybook.kit.db import Database
from tallybook.kit.migrate import upgrade
from tallybook.settings import Settings
from tallybook.worker.loop import Worker

TOKEN = re.compile(r"API token \(shown only now\): (\S+)")
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
TARGET_P95_MS = 150.0


class StatementCounter:
    """Counts the statements the event store runs (each is one round trip)."""

    def __init__(self, store: EventStore) -> None:
        self.count = 0
        for name in ("execute", "execute_batches"):
            original = getattr(store, name)
            setattr(store, name, self._counting(original))

    def _counting(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def counted(*args: Any, **kwargs: Any) -> Any:
            self.count += 1
            return original(*args, **kwargs)

        return counted


def pages(client: TestClient) -> dict[str, str]:
    targets = client.get("/console/targets").text
    target = re.findall(r'href="(/console/workflows/[^"]+/targets/[^"]+)"', targets)[0]
    workflows = client.get("/console/workflows").text
    finder = re.findall(r'href="(/console/workflows/[0-9a-f-]+)">Product finder', workflows)[0]
    today = datetime.now(UTC).date()
    week = f"start={today - timedelta(days=7):%Y-%m-%d}&end={today + timedelta(days=1):%Y-%m-%d}"
    return {
        "sign-in form": "/console/sign-in",
        "targets overview (3 targets)": "/console/targets",
        "target page": target,
        "workflows": "/console/workflows",
        "workflow (funnel + step 2 table)": f"{finder}?step=2",
        "event explorer (a week by day, grouped)": (
            f"/console/explorer?vendor=com.example.shop&granularity=day&group_by=category&{week}"
        ),
        "exports": "/console/exports",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=5)
    args = parser.parse_args()
    print(machine())
    with tempfile.TemporaryDirectory() as directory:
        settings = Settings(data_dir=Path(directory), _env_file=None)
        database = Database(settings)
        upgrade(database.engine)
        store = open_event_store(settings)
        files = open_file_store(settings)
        printed = io.StringIO()
        with redirect_stdout(printed):
            load_demo(database, store, "http://127.0.0.1:8000")
        Worker(database, store, settings, files=files).run_pass()
        found = TOKEN.search(printed.getvalue())
        assert found is not None
        counter = StatementCounter(store)
        app = create_app(settings, database, store, files=files)
        with TestClient(app) as client:
            csrf = CSRF.findall(client.get("/console/sign-in").text)[0]
            client.post(
                "/console/sign-in",
                data={"csrf_token": csrf, "token": found.group(1), "next": "/console"},
            )
            print(f"{'page':42} {'p50 ms':>7} {'p95 ms':>7} {'max ms':>7} {'CPU ms':>7} stmts")
            worst = 0.0
            for name, path in pages(client).items():
                for _ in range(args.warmup):
                    assert client.get(path).status_code == 200, path
                counter.count = 0
                walls = []
                cpu = time.process_time()
                for _ in range(args.repeat):
                    started = time.perf_counter()
                    answer = client.get(path)
                    walls.append((time.perf_counter() - started) * 1000)
                    assert answer.status_code == 200, path
                cpu_ms = (time.process_time() - cpu) * 1000 / args.repeat
                p95 = statistics.quantiles(walls, n=20)[-1]
                worst = max(worst, p95)
                print(
                    f"{name:42} {statistics.median(walls):7.1f} {p95:7.1f} {max(walls):7.1f} "
                    f"{cpu_ms:7.1f} {counter.count / args.repeat:5.1f}"
                )
        store.close()
        files.close()
        database.close()
    print("load average after the run " + ", ".join(f"{v:.2f}" for v in os.getloadavg()))
    verdict = "met" if worst < TARGET_P95_MS else "NOT met"
    print(f"Target p95 < {TARGET_P95_MS:.0f} ms on every page: {verdict} (worst p95 {worst:.1f})")


if __name__ == "__main__":
    main()
