"""Write synthetic events (NDJSON or Parquet) for the event-store benchmarks.

python bench/generate_events.py /tmp/events.parquet --events 10000000 --organizations 1 --days 30
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

from _common import Clock, machine

from tallybook.events.generate import Spec, organization_ids, write_events


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path, help="output file; .parquet for Parquet, else NDJSON")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument(
        "--organizations", type=int, default=10, help="skewed: the first is biggest"
    )
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--start", default="2021-03-01", help="first day (UTC), ISO date")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--id-share", type=float, default=0.0, help="share of events with a client id"
    )
    parser.add_argument("--format", choices=("ndjson", "parquet"), default=None)
    args = parser.parse_args()

    start = datetime.fromisoformat(args.start).replace(tzinfo=UTC)
    spec = Spec(
        events=args.events,
        organizations=args.organizations,
        days=args.days,
        start=start,
        seed=args.seed,
        id_share=args.id_share,
    )
    print(machine())
    with Clock() as clock:
        write_events(args.path, spec, args.format)
    size = args.path.stat().st_size / 1e6
    print(f"wrote {args.events:,} events to {args.path} ({size:,.0f} MB) in {clock.wall:.1f} s")
    print(
        "organisations:",
        ", ".join(str(o) for o in organization_ids(args.organizations, args.seed)[:3]),
        "…",
    )


if __name__ == "__main__":
    main()
