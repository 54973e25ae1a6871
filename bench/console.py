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
from functools import partial
from pathlib import Path
from typing import Any

from _common import machine
from fastapi.testclient import TestClient

from tallybook.app import create_app
from tallybook.demo import load_demo
from tallybook.events.store import EventStore, open_event_store
from tallybook.files.registry import open_file_store
from tallybook.kit.db import Database
from tallybook.kit.migrate import upgrade
from tallybook.settings import Settings
from tallybook.worker.loop import Worker

TOKEN = re.compile(r"API token \(shown only now\): (\S+)")
ORG = re.compile(r"Demo organisation loaded: (\S+)")
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
        "analytics (the demo channel, 90 days)": "/console/analytics",
    }


Request = Callable[[], Any]


def page_requests(client: TestClient) -> dict[str, Request]:
    return {name: partial(client.get, path) for name, path in pages(client).items()}


def api_requests(
    client: TestClient, token: str, org_id: str, found: dict[str, str]
) -> dict[str, Request]:
    """The API's answers to the same questions, timed in the same run for a ratio: the
    /test of the target page, the chart query and step rows of the workflow page, and the
    explorer's fetch."""
    headers = {"Authorization": f"Token {token}"}
    _, _, workflow_id, _, target_id = found["target page"].strip("/").split("/")
    finder = found["workflow (funnel + step 2 table)"].split("?")[0].rsplit("/", 1)[1]
    objectives = f"/api/objectives/v1/orgs/{org_id}/workflows"
    reporting = f"/api/reporting/workflow/v1/orgs/{org_id}/workflows/{finder}"
    today = datetime.now(UTC).date()

    def interval(days: int) -> dict[str, str]:
        return {
            "start": f"{today - timedelta(days=days):%Y-%m-%d}T00:00:00Z",
            "end": f"{today + timedelta(days=1):%Y-%m-%d}T00:00:00Z",
        }

    def chart_and_rows() -> Any:
        body = {"filters": [], "interval": interval(14)}
        client.post(f"{reporting}/query", json=body, headers=headers)
        return client.post(
            f"{reporting}/step/2", json={**body, "limit": 20, "basic": True}, headers=headers
        )

    fetch = {
        "vendor": "com.example.shop",
        "granularity": "day",
        "aggregations": ["count"],
        "group_by": ["category"],
        "interval": interval(7),
    }
    return {
        "API: the target's /test": lambda: client.get(
            f"{objectives}/{workflow_id}/targets/{target_id}/test", headers=headers
        ),
        "API: chart query + step 2 rows (2 calls)": chart_and_rows,
        "API: fetch (a week by day, grouped)": lambda: client.post(
            f"/api/events/v2/orgs/{org_id}/fetch", json=fetch, headers=headers
        ),
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
        token, org_id = TOKEN.findall(printed.getvalue())[0], ORG.findall(printed.getvalue())[0]
        counter = StatementCounter(store)
        app = create_app(settings, database, store, files=files)
        with TestClient(app) as client:
            csrf = CSRF.findall(client.get("/console/sign-in").text)[0]
            client.post(
                "/console/sign-in", data={"csrf_token": csrf, "token": token, "next": "/console"}
            )
            requests = page_requests(client)
            api = api_requests(client, token, org_id, pages(client))
            print(f"{'request':44} {'p50 ms':>7} {'p95 ms':>7} {'max ms':>7} {'CPU ms':>7} stmts")
            worst = 0.0
            for name, request in {**requests, **api}.items():
                p95 = measure(name, request, counter, args.repeat, args.warmup)
                if not name.startswith("API"):
                    worst = max(worst, p95)
        store.close()
        files.close()
        database.close()
    print("load average after the run " + ", ".join(f"{v:.2f}" for v in os.getloadavg()))
    verdict = "met" if worst < TARGET_P95_MS else "NOT met"
    print(f"Target p95 < {TARGET_P95_MS:.0f} ms on every page: {verdict} (worst p95 {worst:.1f})")


def measure(
    name: str, request: Request, counter: StatementCounter, repeat: int, warmup: int
) -> float:
    """Times ``repeat`` requests after ``warmup``; prints a line and returns the p95."""
    for _ in range(warmup):
        assert request().status_code == 200, name
    counter.count = 0
    walls = []
    cpu = time.process_time()
    for _ in range(repeat):
        started = time.perf_counter()
        answer = request()
        walls.append((time.perf_counter() - started) * 1000)
        assert answer.status_code == 200, name
    cpu_ms = (time.process_time() - cpu) * 1000 / repeat
    p95 = statistics.quantiles(walls, n=20)[-1]
    print(
        f"{name:44} {statistics.median(walls):7.1f} {p95:7.1f} {max(walls):7.1f} "
        f"{cpu_ms:7.1f} {counter.count / repeat:5.1f}"
    )
    return p95


if __name__ == "__main__":
    main()
