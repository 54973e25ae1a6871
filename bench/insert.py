"""Time EventStore.insert alone, in batches, as the table grows.

Batches are read from a generated file before each is timed; only ``insert`` (commit and
WAL fsync included) is measured.

    python bench/insert.py /tmp/events-2m.parquet --db /tmp/insert.duckdb --fresh --batch 1000
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from _common import machine, peak_rss_mb, remove_database

from tallybook.events.engines.duckdb.store import DuckDBEventStore
from tallybook.events.generate import read_events


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", type=Path, help="NDJSON or Parquet (see bench/generate_events.py)")
    parser.add_argument("--db", type=Path, default=Path("bench-insert.duckdb"))
    parser.add_argument("--fresh", action="store_true", help="delete the database first")
    parser.add_argument("--batch", type=int, default=1_000)
    parser.add_argument("--report", type=int, default=250_000, help="print a line every N events")
    parser.add_argument("--resend", action="store_true", help="then send every batch again")
    args = parser.parse_args()

    if args.fresh:
        remove_database(args.db)
    print(machine())
    store = DuckDBEventStore(args.db)
    try:
        run(store, args.file, args.batch, args.report)
        if args.resend:
            print("resending every batch (all duplicates):")
            run(store, args.file, args.batch, args.report)
    finally:
        store.close()
    print(f"peak RSS {peak_rss_mb():,.0f} MB, database {args.db.stat().st_size / 1e6:,.0f} MB")


def run(store: DuckDBEventStore, file: Path, batch: int, report: int) -> None:
    total_time = cpu_time = 0.0
    done = stored = 0
    window: list[float] = []
    for events in read_events(file, batch):
        started, cpu = time.perf_counter(), time.process_time()
        result = store.insert(events)
        elapsed = time.perf_counter() - started
        cpu_time += time.process_time() - cpu
        total_time += elapsed
        window.append(elapsed)
        done += len(events)
        stored += result.stored
        if done % report < batch:
            mean, p50 = sum(window) / len(window), statistics.median(window)
            print(
                f"{done:>10,} events: last {len(window)} batches {mean * 1e3:.1f} ms mean,"
                f" {p50 * 1e3:.1f} ms p50, {max(window) * 1e3:.0f} ms max"
                f" = {len(window) * batch / sum(window):,.0f} events/s"
            )
            window = []
    print(
        f"total: {done:,} events ({stored:,} stored) in {total_time:.1f} s of insert = "
        f"{done / total_time:,.0f} events/s (process CPU {cpu_time:.1f} s)"
    )


if __name__ == "__main__":
    main()
