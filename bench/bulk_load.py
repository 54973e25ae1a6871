"""Bulk-load an NDJSON or Parquet file into a DuckDB event store and report events/s.

The time runs from the call to ``load_file`` until the store is closed.

python bench/bulk_load.py /tmp/events.parquet --db /tmp/bench.duckdb --fresh
"""

from __future__ import annotations

import argparse
from pathlib import Path

from _common import Clock, machine, peak_rss_mb, remove_database

from tallybook.events.bulk import load_file
from tallybook.events.engines.duckdb.store import DuckDBEventStore


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", type=Path, help="NDJSON or Parquet (see bench/generate_events.py)")
    parser.add_argument("--db", type=Path, default=Path("bench-events.duckdb"))
    parser.add_argument("--fresh", action="store_true", help="delete the database first")
    args = parser.parse_args()

    if args.fresh:
        remove_database(args.db)
    print(machine())
    store = DuckDBEventStore(args.db)
    closed = False
    try:
        # Closing is timed too: DuckDB may defer writing (a checkpoint) until then.
        with Clock() as clock:
            result = load_file(store, args.file)
            with Clock() as closing:
                store.close()
                closed = True
    finally:
        if not closed:
            store.close()
    total = result.stored + result.duplicates
    print(
        f"{args.file.name}: {result.stored:,} stored, {result.duplicates:,} duplicates in "
        f"{clock.wall:.2f} s = {total / clock.wall:,.0f} events/s "
        f"(closing {closing.wall:.2f} s of it; CPU {clock.cpu:.1f} s, "
        f"peak RSS {peak_rss_mb():,.0f} MB, database {args.db.stat().st_size / 1e6:,.0f} MB)"
    )


if __name__ == "__main__":
    main()
