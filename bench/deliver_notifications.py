"""Benchmark notification delivery to a local Slack-like endpoint.

Queues N snapshot cards in the outbox of a fresh embedded database (SQLite; or
PostgreSQL with ``--postgres-url``/``--start-postgres``), one per Slack setting, and times
worker passes delivering all of them to a Slack-like HTTP server running in another
process on 127.0.0.1. ``--mode webhook`` posts to incoming-webhook URLs (text only);
``--mode token`` uses the bot-token API, drawing and uploading a chart per distinct card
(``--targets`` distinct targets share the charts) before each ``chat.postMessage``.

    .venv/bin/python bench/deliver_notifications.py --notifications 10000 --mode webhook
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import tempfile
import threading
import time
import uuid
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import cast

from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _common import cpu_seconds, machine, peak_rss_mb  # noqa: E402
from tests.fixtures.postgres import create_database, postgres_server  # noqa: E402

from tallybook.events.store import open_event_store  # noqa: E402
from tallybook.kit.db import Database  # noqa: E402
from tallybook.kit.migrate import upgrade  # noqa: E402
from tallybook.notifications.cards.data import (  # noqa: E402
    Card,
    ChartPoint,
    NotificationKind,
    PeriodLine,
)
from tallybook.notifications.channels.registry import ChannelType  # noqa: E402
from tallybook.notifications.models import Notification, NotificationSetting  # noqa: E402
from tallybook.notifications.outbox import queue as outbox  # noqa: E402
from tallybook.notifications.states import NotificationState  # noqa: E402
from tallybook.organizations.models import Organization  # noqa: E402
from tallybook.settings import Settings  # noqa: E402
from tallybook.targets.models import Target  # noqa: E402
from tallybook.targets.periods import Period  # noqa: E402
from tallybook.worker.loop import Worker  # noqa: E402
from tallybook.workflows.models import Workflow  # noqa: E402

DAY = datetime(2027, 1, 12, tzinfo=UTC)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--notifications", type=int, default=10_000)
    parser.add_argument("--targets", type=int, default=100, help="distinct targets (cards)")
    parser.add_argument("--mode", choices=("webhook", "token"), default="webhook")
    parser.add_argument("--concurrency", type=int, default=8, help="deliveries at once")
    parser.add_argument("--postgres-url", help="use this PostgreSQL server instead of SQLite")
    parser.add_argument("--start-postgres", action="store_true", help="start a throwaway one")
    return parser.parse_args()


class SlackLike(BaseHTTPRequestHandler):
    """Accepts webhooks and the three Web API calls a token delivery makes; counts posts."""

    protocol_version = "HTTP/1.1"  # keep-alive, as Slack's endpoints do
    disable_nagle_algorithm = True  # headers and body go in separate writes

    posts = 0
    lock = threading.Lock()

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        path = self.path
        if path.startswith("/hooks/") or path.endswith("chat.postMessage"):
            with SlackLike.lock:
                SlackLike.posts += 1
            body: dict[str, object] = {"ok": True, "ts": "1.0"}
        elif path.endswith("files.getUploadURLExternal"):
            port = cast("tuple[str, int]", self.server.server_address)[1]
            body = {"ok": True, "file_id": "F1", "upload_url": f"http://127.0.0.1:{port}/up"}
        else:
            body = {"ok": True, "files": [{"id": "F1"}]}
        self._answer(body if not path.startswith("/hooks/") else None)

    def do_GET(self) -> None:
        self._answer({"posts": SlackLike.posts})

    def _answer(self, body: dict[str, object] | None) -> None:
        data = b"ok" if body is None else json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain" if body is None else "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_args: object) -> None:
        pass


class Server(ThreadingHTTPServer):
    request_queue_size = 256  # the default 5 drops connections under 8 concurrent clients


def serve(port_queue: multiprocessing.Queue[int]) -> None:
    server = Server(("127.0.0.1", 0), SlackLike)
    server.daemon_threads = True
    port_queue.put(server.server_address[1])
    server.serve_forever()


def card(index: int) -> Card:
    days = [DAY - timedelta(days=d) for d in range(7, -1, -1)]
    return Card(
        kind=NotificationKind.SNAPSHOT,
        organization="Bench",
        workflow="Sales",
        target=f"Target {index}",
        timezone="Europe/Helsinki",
        reporting_period="P1D",
        threshold=50.0,
        bound="LOWER",
        lines=(PeriodLine(DAY, DAY + timedelta(days=1), 60.0 + index, "reached", 48.0),),
        chart=tuple(ChartPoint(day, 40.0 + (i * 7 + index) % 30) for i, day in enumerate(days)),
    )


def queue(database: Database, args: argparse.Namespace, base_url: str) -> None:
    per_target = max(1, args.notifications // args.targets)
    period = Period(DAY, DAY + timedelta(days=1))
    with database.unit_of_work() as session:
        org = Organization(name="Bench", timezone="Europe/Helsinki")
        session.add(org)
        session.flush()
        workflow = Workflow(organization_id=org.id, name="Sales")
        session.add(workflow)
        session.flush()
        for t in range(args.targets):
            target = Target(
                organization_id=org.id,
                workflow_id=workflow.id,
                name=f"Target {t}",
                reporting_threshold=50.0,
                reporting_query={"vendor": "v", "aggregations": ["count"]},
                reporting_field="count",
                reporting_period="P1D",
                reporting_bound="LOWER",
            )
            session.add(target)
            session.flush()
            settings = [
                NotificationSetting(
                    id=uuid.uuid4(),
                    organization_id=org.id,
                    target_id=target.id,
                    channel_type=ChannelType.SLACK,
                    **(
                        {"incoming_webhook_url": f"{base_url}/hooks/{t}/{s}"}
                        if args.mode == "webhook"
                        else {"token": f"xoxb-bench-{t}-{s}", "slack_channel": "C123"}
                    ),
                )
                for s in range(per_target)
            ]
            session.add_all(settings)
            session.flush()
            rows = outbox.rows_for(
                settings, NotificationKind.SNAPSHOT, period, card(t), DAY, timedelta(0)
            )
            outbox.enqueue(session, rows)


def main() -> None:
    args = parse_args()
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="tallybook-bench-")))
        url = args.postgres_url
        if args.start_postgres:
            url = create_database(stack.enter_context(postgres_server()), "bench_delivery")
        ports: multiprocessing.Queue[int] = multiprocessing.Queue()
        server = multiprocessing.Process(target=serve, args=(ports,), daemon=True)
        server.start()
        base_url = f"http://127.0.0.1:{ports.get(timeout=10)}"
        settings = Settings(
            data_dir=tmp,
            database_url=url,
            secret_key="bench",
            outbound_allow_private=True,
            slack_api_url=f"{base_url}/api/",
            delivery_concurrency=args.concurrency,
            _env_file=None,
        )
        database = Database(settings)
        upgrade(database.engine)
        store = open_event_store(settings)
        queue(database, args, base_url)
        worker = Worker(database, store, settings, name="bench")
        assert server.pid is not None
        started, cpu, server_cpu = time.perf_counter(), time.process_time(), cpu_seconds(server.pid)
        outcomes = worker.deliver(DAY + timedelta(minutes=1))
        seconds = time.perf_counter() - started
        cpu, server_cpu = time.process_time() - cpu, cpu_seconds(server.pid) - server_cpu
        with database.unit_of_work() as session:
            sent = session.execute(
                select(func.count())
                .select_from(Notification)
                .where(Notification.state == NotificationState.SENT)
            ).scalar_one()
        import httpx

        posts = httpx.get(base_url + "/count").json()["posts"]
        server.kill()
        print(f"machine: {machine()}")
        print(
            f"{args.mode} on {'PostgreSQL' if url else 'SQLite'}, concurrency "
            f"{args.concurrency}: {sent} sent ({posts} received, outcomes {outcomes}) in "
            f"{seconds:.1f} s = {sent / seconds:.0f} notifications/s; "
            f"CPU per notification: Tallybook {cpu / sent * 1000:.2f} ms, "
            f"the Slack-like server {server_cpu / sent * 1000:.2f} ms; "
            f"peak RSS {peak_rss_mb():.0f} MB"
        )
        store.close()
        database.close()


if __name__ == "__main__":
    main()
