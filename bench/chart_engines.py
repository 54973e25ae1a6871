"""The funnel chart's one statement on DuckDB and on ClickHouse, ClickHouse in its own form
and in the plain form every other engine runs, alternating in one process.

Reads the stores ``bench/engines_at_scale.py --data-dir <dir>`` loaded (its DuckDB file and
ClickHouse directory, and the workflow it made): no HTTP, only ``store.relation_rows`` of
the chart's ``ChartPlan``, without a path and with the benchmark's three-step path. Every
answer is first checked against DuckDB's (the steps and links the endpoint would return);
then ``--repeat`` rounds run DuckDB, ClickHouse as shipped (``hashed_keys`` and
``windows_sort_rows``: see ``funnels.charts`` and ``funnels.paths``) and ClickHouse with
the plain statement, in turn, and the p50 wall and CPU time (this process's, chdb's and
DuckDB's threads included) of each is printed with its ratio to DuckDB's.

    python bench/chart_engines.py --data-dir <dir> --repeat 5
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from _common import machine  # noqa: E402

from funnels import DAYS, PATH, START  # noqa: E402
from tallybook.events.engines.clickhouse.store import embedded_store  # noqa: E402
from tallybook.events.engines.duckdb.store import DuckDBEventStore  # noqa: E402
from tallybook.events.query.dialects import ClickHouseDialect  # noqa: E402
from tallybook.events.query.render import render_relation  # noqa: E402
from tallybook.funnels.charts import ChartEvents, ChartPlan, chart_links, chart_steps  # noqa: E402
from tallybook.funnels.paths import StepPath, WorkflowScope  # noqa: E402


class PlainClickHouse(ClickHouseDialect):
    """ClickHouse rendering the statement the other engines run."""

    hashed_keys = False
    windows_sort_rows = False


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data-dir", type=Path, required=True, help="a bench/engines_at_scale.py data directory"
    )
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    setup = json.loads((args.data_dir / "setup.json").read_text())
    if "clickhouse" not in setup["engines"]:
        raise SystemExit("the data directory has no ClickHouse store")
    print(machine())
    print(f"command: {' '.join(sys.argv)}")
    scope = WorkflowScope(
        uuid.UUID(setup["organization_id"]),
        uuid.UUID(setup["workflow_id"]),
        START,
        START + timedelta(days=DAYS),
    )
    duckdb = DuckDBEventStore(args.data_dir / "events.duckdb")
    clickhouse = embedded_store(args.data_dir / "clickhouse")
    plain = PlainClickHouse(materialize_shared_ctes=clickhouse.dialect.materialize_shared_ctes)

    def plain_rows(plan: ChartPlan) -> list[tuple[Any, ...]]:
        rendered = render_relation(plan, plain)
        return clickhouse.execute(rendered.sql, rendered.params)

    runners: dict[str, Callable[[ChartPlan], list[tuple[Any, ...]]]] = {
        "duckdb": duckdb.relation_rows,
        "clickhouse": clickhouse.relation_rows,
        "clickhouse, plain statement": plain_rows,
    }
    paths = {
        "no path": StepPath(),
        "three-step path": StepPath.of("interaction", [s["actions"] for s in PATH]),
    }
    for name, path in paths.items():
        plan = ChartPlan(ChartEvents(scope, path))
        answers = {engine: run(plan) for engine, run in runners.items()}
        wanted = (chart_steps(answers["duckdb"]), chart_links(answers["duckdb"]))
        for engine, rows in answers.items():
            assert (chart_steps(rows), chart_links(rows)) == wanted, f"{name}: {engine} differs"
        walls: dict[str, list[float]] = {engine: [] for engine in runners}
        cpus: dict[str, list[float]] = {engine: [] for engine in runners}
        load = os.getloadavg()[0]
        for _ in range(args.repeat):
            for engine, run in runners.items():
                wall, cpu = time.perf_counter(), time.process_time()
                run(plan)
                walls[engine].append(time.perf_counter() - wall)
                cpus[engine].append(time.process_time() - cpu)
        duck_wall = statistics.median(walls["duckdb"])
        duck_cpu = statistics.median(cpus["duckdb"])
        for engine in runners:
            wall, cpu = statistics.median(walls[engine]), statistics.median(cpus[engine])
            print(
                f"{name:<16} {engine:<28} p50 {wall * 1e3:7,.0f} ms ({wall / duck_wall:.2f}×)"
                f"  CPU p50 {cpu * 1e3:7,.0f} ms ({cpu / duck_cpu:.2f}×)"
                f"  [{args.repeat} runs, load before {load:.2f}]",
                flush=True,
            )
    clickhouse.close()
    duckdb.close()
    print("load average after:", ", ".join(f"{v:.2f}" for v in os.getloadavg()))


if __name__ == "__main__":
    main()
