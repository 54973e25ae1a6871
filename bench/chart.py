"""Latency of the funnel chart (``POST …/workflows/{wf}/query/``: a query for the steps,
then one statement for the counts and links) on the DuckDB event store.

Writes a workflow's sessions into a fresh DuckDB file: each session walks the steps 0, 1,
… in order (one event per step, an action drawn from a few per step, 5-90 s apart) and
drops off after each step with probability 0.25; one event in ten belongs to another
workflow. Then times ``service.run_chart`` (what the endpoint runs, minus HTTP) without a
path, with a path of ``step_data``, and with a filter, and prints the median and worst of
``--repeat`` runs.

    .venv/bin/python bench/chart.py --sessions 200000 --repeat 5
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _common import machine

from tallybook.events.engines.duckdb.store import DuckDBEventStore
from tallybook.events.records import StoredEvent
from tallybook.funnels.charts import ChartEvents
from tallybook.funnels.paths import StepPath, WorkflowScope
from tallybook.funnels.schemas import PropertyFilter
from tallybook.funnels.service import run_chart

START = datetime(2022, 11, 1, tzinfo=UTC)
BATCH = 50_000


def events(
    org: uuid.UUID, wf: uuid.UUID, sessions: int, steps: int, actions: int
) -> list[StoredEvent]:
    rng = random.Random(7)
    out: list[StoredEvent] = []
    for number in range(sessions):
        at = START + timedelta(seconds=rng.randrange(28 * 86400))
        label = str(wf) if rng.random() < 0.9 else str(uuid.uuid4())
        for step in range(steps):
            if step and rng.random() < 0.25:
                break
            at += timedelta(seconds=rng.randrange(5, 90))
            out.append(
                StoredEvent(
                    organization_id=org,
                    timestamp=at,
                    received_at=at,
                    source="trusted",
                    event_version=1,
                    vendor="com.giosg.interaction",
                    category="interaction",
                    action=f"view-{step}-{rng.randrange(actions)}",
                    label=label,
                    dim4=f"Step {step}",
                    dim5=str(step),
                    session_id=f"session-{number}",
                    visitor_id=f"visitor-{rng.randrange(sessions // 2 + 1)}",
                    device_type=rng.choice(["desktop", "mobile"]),
                )
            )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=200_000)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--actions", type=int, default=3, help="actions per step")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(machine())
    org, wf = uuid.uuid4(), uuid.uuid4()
    with tempfile.TemporaryDirectory() as directory:
        store = DuckDBEventStore(Path(directory) / "chart.duckdb")
        try:
            rows = events(org, wf, args.sessions, args.steps, args.actions)
            for offset in range(0, len(rows), BATCH):
                store.insert(rows[offset : offset + BATCH])
            print(f"{len(rows):,} events, {args.sessions:,} sessions, {args.steps} steps")
            scope = WorkflowScope(org, wf, START, START + timedelta(days=29))
            listed: list[list[str]] = [[]] + [
                [f"view-{k}-0", f"view-{k}-1"] for k in range(1, args.steps)
            ]
            mobile = (
                PropertyFilter.model_validate({"property": "device_type", "values": ["mobile"]}),
            )
            cases = {
                "no path": ChartEvents(scope, StepPath()),
                "path on every step": ChartEvents(scope, StepPath.of("interaction", listed)),
                "filter device_type": ChartEvents(scope, StepPath(), mobile),
            }
            for name, chart_events in cases.items():
                times = []
                for _ in range(args.repeat):
                    began = time.perf_counter()
                    chart = run_chart(store, chart_events)
                    times.append(time.perf_counter() - began)
                print(
                    f"{name:<20} {len(chart['steps'])} steps {len(chart['links']):>3} links"
                    f"  p50 {statistics.median(times) * 1e3:8.1f} ms"
                    f"  max {max(times) * 1e3:8.1f} ms"
                )
        finally:
            store.close()


if __name__ == "__main__":
    main()
