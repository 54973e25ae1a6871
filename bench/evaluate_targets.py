"""Benchmark the worker's evaluation of one closed P1D period for many targets.

Builds, in a fresh data directory with the embedded engines (SQLite + DuckDB), N
organisations in time zones from UTC-8 to UTC+9 with T targets each (count of a vendor,
some with a category filter; one Slack webhook setting per target unless
``--no-settings``), loads synthetic events for three days, and times one worker pass at
an instant when exactly one P1D period has closed in every zone: each target gets one
evaluation, one snapshot queued per setting, and one ongoing check of the current day.
Delivery is not part of this benchmark (see bench/deliver_notifications.py).

    .venv/bin/python bench/evaluate_targets.py --organizations 1000 --targets-per-org 10
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from _common import machine, peak_rss_mb  # noqa: E402

from tallybook.evaluations.models import Evaluation  # noqa: E402
from tallybook.events.bulk import load_file  # noqa: E402
from tallybook.events.generate import Spec, organization_ids, write_events  # noqa: E402
from tallybook.events.store import open_event_store  # noqa: E402
from tallybook.kit.db import Database  # noqa: E402
from tallybook.kit.migrate import upgrade  # noqa: E402
from tallybook.notifications.channels.registry import ChannelType  # noqa: E402
from tallybook.notifications.models import Notification, NotificationSetting  # noqa: E402
from tallybook.organizations.models import Organization  # noqa: E402
from tallybook.settings import Settings  # noqa: E402
from tallybook.targets.models import Target  # noqa: E402
from tallybook.worker.loop import Worker  # noqa: E402
from tallybook.workflows.models import Workflow  # noqa: E402

ZONES = ("America/Los_Angeles", "America/New_York", "UTC", "Europe/Helsinki", "Asia/Tokyo")
VENDORS = ("com.giosg.chat", "interaction-designer", "com.tallybook.demo")
DAY = datetime(2027, 1, 12, tzinfo=UTC)  # the day evaluated, local in each zone (no DST)
AS_OF = datetime(2027, 1, 13, 8, 30, tzinfo=UTC)  # after Los Angeles' day, before Tokyo's next


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--organizations", type=int, default=1000)
    parser.add_argument("--targets-per-org", type=int, default=10)
    parser.add_argument("--events", type=int, default=2_000_000, help="events over three days")
    parser.add_argument("--no-settings", action="store_true", help="targets without settings")
    parser.add_argument("--data-dir", type=Path, help="keep the data here (default: temporary)")
    return parser.parse_args()


def build(database: Database, organizations: list[uuid.UUID], per_org: int, settings: bool) -> None:
    created = datetime(2027, 1, 1, tzinfo=UTC)
    with database.unit_of_work() as session:
        for i, org_id in enumerate(organizations):
            zone = ZONES[i % len(ZONES)]
            session.add(Organization(id=org_id, name=f"Org {i}", timezone=zone))
            workflow = Workflow(organization_id=org_id, name="Sales")
            session.add(workflow)
            session.flush()
            local_day = datetime.combine(DAY.date(), datetime.min.time(), ZoneInfo(zone))
            for t in range(per_org):
                query: dict[str, object] = {"vendor": VENDORS[t % 3], "aggregations": ["count"]}
                if t % 2:
                    query["filters"] = {
                        "type": "selector",
                        "dimension": "category",
                        "value": "chat",
                    }
                target = Target(
                    organization_id=org_id,
                    workflow_id=workflow.id,
                    name=f"Target {t}",
                    reporting_threshold=100.0,
                    reporting_query=query,
                    reporting_field="count",
                    reporting_period="P1D",
                    reporting_bound="LOWER",
                    target_active_from=local_day.astimezone(UTC),
                    created_at=created,
                )
                session.add(target)
                if settings:
                    session.flush()
                    session.add(
                        NotificationSetting(
                            organization_id=org_id,
                            target_id=target.id,
                            channel_type=ChannelType.SLACK,
                            incoming_webhook_url=f"http://127.0.0.1:9/hooks/{t}",
                        )
                    )


def main() -> None:
    args = parse_args()
    with tempfile.TemporaryDirectory(prefix="tallybook-bench-") as tmp:
        data_dir = args.data_dir or Path(tmp)
        settings = Settings(
            data_dir=data_dir,
            secret_key="bench",
            outbound_allow_private=True,
            _env_file=None,
        )
        database = Database(settings)
        upgrade(database.engine)
        store = open_event_store(settings)
        organizations = organization_ids(args.organizations)
        started = time.perf_counter()
        events_file = data_dir / "events.parquet"
        spec = Spec(
            events=args.events,
            organizations=args.organizations,
            days=3,
            start=DAY - timedelta(days=1),
        )
        write_events(events_file, spec)
        load_file(store, events_file)
        build(database, organizations, args.targets_per_org, not args.no_settings)
        print(f"setup: {time.perf_counter() - started:.1f} s", file=sys.stderr)

        worker = Worker(database, store, settings, name="bench")
        started = time.perf_counter()
        targets = worker.evaluate(AS_OF)
        seconds = time.perf_counter() - started
        with database.unit_of_work() as session:
            evaluations = session.scalar(select(func.count()).select_from(Evaluation))
            queued = session.scalar(select(func.count()).select_from(Notification))
        print(f"machine: {machine()}")
        print(
            f"{targets} targets in {args.organizations} organisations: {evaluations} evaluations, "
            f"{queued} notifications queued in {seconds:.1f} s "
            f"({targets / seconds:.0f} targets/s); peak RSS {peak_rss_mb():.0f} MB"
        )
        store.close()
        database.close()


if __name__ == "__main__":
    main()
