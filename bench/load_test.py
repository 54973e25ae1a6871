"""A bounded load test of the scaled-out shape, on loopback only.

Starts a throwaway PostgreSQL (or uses ``--postgres-url``), a Slack-like server, one
``tallybook serve --workers 2`` (two API processes on one port) and two
``tallybook worker`` processes, all on that PostgreSQL (relational store and events) and a
shared files directory (with ``--s3``, a bucket of moto's S3 server on loopback). Then,
for ``--seconds``: client threads post event batches (each event with a client id), and
every second a target becomes due (active since three days, daily periods, a Slack webhook
each) and a report export is requested; one worker is killed with SIGKILL a third of the
way through. Afterwards it waits (at most ``--settle`` seconds) for the work to end
and checks:

- no answer of the API was 5xx;
- every event whose batch was acknowledged (200) is in the store;
- every notification was sent, and the Slack stand-in got each once (the one window for
  a duplicate, a kill between Slack's answer and the commit, is reported if it is hit);
- every export completed, and its link downloads.

Exit status 0 when every invariant holds. Nothing leaves 127.0.0.1.

    .venv/bin/python bench/load_test.py --seconds 60
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _common import machine  # noqa: E402
from tests.fixtures.postgres import create_database, postgres_server  # noqa: E402
from tests.fixtures.slack_server import SlackServer  # noqa: E402

SECRET = "load-test-secret-key-not-for-production"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="load phase length")
    parser.add_argument("--settle", type=float, default=90.0, help="most seconds to wait after")
    parser.add_argument("--clients", type=int, default=4, help="event-posting threads")
    parser.add_argument("--batch", type=int, default=200, help="events per request")
    parser.add_argument("--organizations", type=int, default=3)
    parser.add_argument("--every", type=float, default=1.0, help="seconds between new targets")
    parser.add_argument("--chats", type=int, default=1000, help="chats of each room exported")
    parser.add_argument("--postgres-url", help="a running server (no database in the URL)")
    parser.add_argument(
        "--s3", action="store_true", help="exports in a bucket of moto's S3 server on loopback"
    )
    args = parser.parse_args()
    print(machine())
    print(f"load average before: {os.getloadavg()}")
    with ExitStack() as stack:
        server = args.postgres_url or stack.enter_context(postgres_server())
        url = create_database(server, f"tallybook_load_{uuid.uuid4().hex[:8]}")
        slack = SlackServer().start()
        stack.callback(slack.stop)
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="tb-load-")))
        files = _bucket(stack) if args.s3 else {"TALLYBOOK_FILES_URL": (folder / "files").as_uri()}
        result = LoadTest(args, url, slack, folder, stack, files).run()
    print(f"load average after: {os.getloadavg()}")
    print(json.dumps(result, indent=2, sort_keys=True))
    sys.exit(0 if all(result["invariants"].values()) else 1)


class LoadTest:
    def __init__(
        self,
        args: argparse.Namespace,
        url: str,
        slack: SlackServer,
        folder: Path,
        stack: ExitStack,
        files: dict[str, str],
    ) -> None:
        self.args, self.url, self.slack, self.folder, self.stack = args, url, slack, folder, stack
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("TALLYBOOK_")},
            "TALLYBOOK_DATABASE_URL": url,
            "TALLYBOOK_EVENTS_URL": url,
            "TALLYBOOK_SECRET_KEY": SECRET,
            "TALLYBOOK_DATA_DIR": str(folder / "data"),
            **files,
            "TALLYBOOK_SLACK_API_URL": slack.api_url,
            "TALLYBOOK_OUTBOUND_ALLOW_PRIVATE": "1",
            "TALLYBOOK_WORKER_POLL_INTERVAL": "0.5",
            "TALLYBOOK_EVALUATION_DELAY": "0",
            "TALLYBOOK_LEASE_SECONDS": "6",  # a killed worker's claims return soon
            "TALLYBOOK_DELIVERY_TIMEOUT": "1",
            "TALLYBOOK_LOG_LEVEL": "warning",
        }
        self.statuses: Counter[int] = Counter()
        self.leased_at_kill: dict[str, int] = {}
        self.acknowledged: list[str] = []
        self.lock = threading.Lock()

    # -- the processes -----------------------------------------------------------------------

    def cli(self, *args: str) -> Any:
        done = subprocess.run(
            [sys.executable, "-m", "tallybook", *args],
            env=self.env,
            cwd=self.folder,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        return json.loads(done.stdout) if "--json" in args else done.stdout

    def spawn(self, *args: str) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            [sys.executable, "-m", "tallybook", *args],
            env=self.env,
            cwd=self.folder,
            stdout=subprocess.DEVNULL,
            stderr=open(self.folder / f"{args[0]}-{time.monotonic_ns()}.log", "wb"),  # noqa: SIM115
        )
        self.stack.callback(_stop, process)
        return process

    # -- the run -----------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        self.cli("migrate")
        tenants = [self.tenant(n) for n in range(self.args.organizations)]
        port = _free_port()
        api = self.spawn("serve", "--workers", "2", "--port", str(port))
        base = f"http://127.0.0.1:{port}"
        _wait_ready(base, api)
        client = httpx.Client(base_url=base, timeout=30)
        rooms = {tenant["org"]: self.room(client, tenant) for tenant in tenants}
        workers = [self.spawn("worker"), self.spawn("worker")]
        hooks: list[str] = []
        exports: list[tuple[dict[str, str], str]] = []
        started = time.monotonic()
        stop = threading.Event()
        threads = [
            threading.Thread(target=self.post_events, args=(base, tenants, n, stop))
            for n in range(self.args.clients)
        ]
        threads.append(
            threading.Thread(target=self.produce, args=(base, tenants, rooms, hooks, exports, stop))
        )
        for thread in threads:
            thread.start()
        time.sleep(self.args.seconds / 3)
        self.leased_at_kill = self.leased()
        workers[0].send_signal(signal.SIGKILL)
        killed_at = time.monotonic() - started
        time.sleep(max(0.0, self.args.seconds - (time.monotonic() - started)))
        stop.set()
        for thread in threads:
            thread.join()
        load_seconds = time.monotonic() - started
        settled = self.settle(client, tenants, exports)
        return self.check(client, tenants, hooks, exports, load_seconds, killed_at, settled)

    def tenant(self, n: int) -> dict[str, str]:
        org = self.cli("admin", "create-org", "--name", f"Load {n}", "--json")["id"]
        user = self.cli(
            "admin", "create-user", "--org", org, "--email", f"load{n}@example.com",
            "--permission", "reporting", "--permission", "settings", "--manager", "--json",
        )["id"]  # fmt: skip
        token = self.cli("admin", "create-token", "--user", user, "--json")["token"]
        return {"org": org, "user": user, "token": token}

    def target(self, client: httpx.Client, tenant: dict[str, str], n: int) -> str:
        """A target due since three days (daily periods) with a Slack webhook of its own;
        the webhook's name."""
        headers = _headers(tenant)
        objectives = f"/api/objectives/v1/orgs/{tenant['org']}"
        workflow = _created(
            client.post(f"{objectives}/workflows", json={"name": f"wf {n}"}, headers=headers)
        )
        since = (datetime.now(UTC) - timedelta(days=3)).strftime("%Y-%m-%dT00:00:00Z")
        target = _created(
            client.post(
                f"{objectives}/workflows/{workflow}/targets",
                json={
                    "name": f"Leads {n}",
                    "reporting_bound": "LOWER",
                    "reporting_threshold": 10,
                    "reporting_query": {"vendor": "com.example.load", "aggregations": ["count"]},
                    "reporting_field": "count",
                    "reporting_period": "P1D",
                    "target_active_from": since,
                },
                headers=headers,
            )
        )
        hook = f"{tenant['org']}-{n}"
        path = f"{objectives}/workflows/{workflow}/targets/{target}/notifications/slack"
        body = {"incoming_webhook_url": self.slack.webhook_url(hook)}
        _created(client.post(path, json=body, headers=headers))
        return hook

    def room(self, client: httpx.Client, tenant: dict[str, str]) -> str:
        """A room with a day of chats (``--chats`` of 20 messages) to export."""
        headers = _headers(tenant)
        v5 = f"/api/v5/orgs/{tenant['org']}"
        room = _created(client.post(f"{v5}/rooms", json={"name": "Support"}, headers=headers))
        day = datetime.now(UTC) - timedelta(days=1)
        chats = [
            {
                "id": str(uuid.uuid4()),
                "created_at": (day + timedelta(seconds=n)).isoformat(),
                "messages": [
                    {"created_at": (day + timedelta(seconds=n, milliseconds=s)).isoformat(),
                     "sender_type": ("visitor", "user")[s % 2], "message": f"line {s}"}
                    for s in range(20)
                ],
            }
            for n in range(self.args.chats)
        ]  # fmt: skip
        answer = client.post(
            f"{v5}/rooms/{room}/chats/import",
            content="\n".join(json.dumps(chat) for chat in chats),
            headers={**headers, "Content-Type": "application/x-ndjson"},
        )
        if answer.status_code != 201:
            raise SystemExit(f"setup failed: chat import {answer.status_code} {answer.text}")
        return room

    def export(self, client: httpx.Client, tenant: dict[str, str], room: str, n: int) -> str:
        kind, form = [("logs", "csv"), ("logs", "xlsx"), ("stats", "csv"), ("logs", "txt")][n % 4]
        day = datetime.now(UTC) - timedelta(days=1)
        body = {
            "type": kind,
            "format": form,
            "room_id": room,
            "starting_at": (day - timedelta(days=1)).isoformat(),
            "ending_at": (day + timedelta(days=1)).isoformat(),
        }
        url = f"/api/v5/orgs/{tenant['org']}/users/{tenant['user']}/reportexports"
        return _created(client.post(url, json=body, headers=_headers(tenant)))

    def produce(
        self,
        base: str,
        tenants: list[dict[str, str]],
        rooms: dict[str, str],
        hooks: list[str],
        exports: list[tuple[dict[str, str], str]],
        stop: threading.Event,
    ) -> None:
        """A new target (with its Slack webhook) and a new export every ``--every`` seconds,
        so that the workers have work in progress whenever the kill comes."""
        with httpx.Client(base_url=base, timeout=30) as client:
            n = 0
            while not stop.is_set():
                tenant = tenants[n % len(tenants)]
                hooks.append(self.target(client, tenant, n))
                exports.append((tenant, self.export(client, tenant, rooms[tenant["org"]], n)))
                n += 1
                stop.wait(self.args.every)

    def leased(self) -> dict[str, int]:
        """Rows a worker holds a live lease on, by table (what the kill interrupts)."""
        return {
            table: int(self.sql(f"SELECT count(*) FROM {table} WHERE lease_until > now()")[0][0])
            for table in ("target_schedules", "notifications", "report_exports")
        }

    def post_events(
        self, base: str, tenants: list[dict[str, str]], n: int, stop: threading.Event
    ) -> None:
        with httpx.Client(base_url=base, timeout=30) as client:
            i = 0
            while not stop.is_set():
                tenant = tenants[(n + i) % len(tenants)]
                i += 1
                ids = [str(uuid.uuid4()) for _ in range(self.args.batch)]
                now = datetime.now(UTC)
                events = [
                    {
                        "id": event_id,
                        "event_version": 1,
                        "vendor": "com.example.load",
                        "category": "lead",
                        "action": "created",
                        "label": "form",
                        "organization_id": tenant["org"],
                        "timestamp": (now - timedelta(hours=(k % 72))).isoformat(),
                        "visitor_id": f"v{k % 50}",
                    }
                    for k, event_id in enumerate(ids)
                ]
                try:
                    answer = client.post(
                        "/events/v2/store/trusted",
                        json={"events": events},
                        headers=_headers(tenant),
                    )
                except httpx.TransportError:
                    with self.lock:
                        self.statuses[0] += 1  # no answer: not acknowledged
                    continue
                with self.lock:
                    self.statuses[answer.status_code] += 1
                    if answer.status_code == 200:
                        self.acknowledged.extend(ids)

    def settle(
        self,
        client: httpx.Client,
        tenants: list[dict[str, str]],
        exports: list[tuple[dict[str, str], str]],
    ) -> float:
        """Seconds until every export completed and no notification is pending (or the
        settle bound)."""
        started = time.monotonic()
        while time.monotonic() - started < self.args.settle:
            done = all(self.export_state(client, t, e)["completed_at"] for t, e in exports)
            if done and self.pending() == 0 and self.notifications():
                break
            time.sleep(1)
        return time.monotonic() - started

    def export_state(self, client: httpx.Client, tenant: dict[str, str], export_id: str) -> Any:
        url = f"/api/v5/orgs/{tenant['org']}/users/{tenant['user']}/reportexports/{export_id}"
        answer = client.get(url, headers=_headers(tenant))
        with self.lock:
            self.statuses[answer.status_code] += 1
        return answer.json()

    def sql(self, statement: str, **params: Any) -> list[Any]:
        engine = create_engine(self.url.replace("postgresql://", "postgresql+psycopg://", 1))
        try:
            with engine.connect() as connection:
                return list(connection.execute(text(statement), params))
        finally:
            engine.dispose()

    def pending(self) -> int:
        return int(self.sql("SELECT count(*) FROM notifications WHERE state = 'pending'")[0][0])

    def notifications(self) -> list[Any]:
        return self.sql(
            "SELECT n.state, s.incoming_webhook_url FROM notifications n"
            " JOIN notification_settings s ON s.id = n.setting_id"
        )

    def check(
        self,
        client: httpx.Client,
        tenants: list[dict[str, str]],
        hooks: list[str],
        exports: list[tuple[dict[str, str], str]],
        load_seconds: float,
        killed_at: float,
        settled: float,
    ) -> dict[str, Any]:
        stored = {
            str(row[0])
            for row in self.sql(
                "SELECT id FROM events WHERE id = ANY(CAST(:ids AS uuid[]))",
                ids=self.acknowledged,
            )
        }
        lost = len(set(self.acknowledged) - stored)
        rows = self.notifications()
        sent = Counter(url.rsplit("/", 1)[1] for state, url in rows if state == "sent")
        received = Counter(m["hook"] for m in self.slack.messages if m.get("via") == "webhook")
        duplicates = sum(max(0, received[h] - sent[h]) for h in received)
        missing = sum(max(0, sent[h] - received[h]) for h in sent)
        finished = [self.export_state(client, t, e) for t, e in exports]
        downloads = Counter(
            httpx.get(e["url"], timeout=30).status_code if e["url"] else -1 for e in finished
        )
        server_errors = sum(n for status, n in self.statuses.items() if status >= 500)
        return {
            "load_seconds": round(load_seconds, 1),
            "worker_killed_at_seconds": round(killed_at, 1),
            "leased_at_kill": self.leased_at_kill,
            "targets": len(hooks),
            "settle_seconds": round(settled, 1),
            "requests_by_status": {str(k): v for k, v in sorted(self.statuses.items())},
            "events_acknowledged": len(self.acknowledged),
            "events_per_second": round(len(self.acknowledged) / load_seconds),
            "events_lost": lost,
            "notifications": dict(Counter(state for state, _ in rows)),
            "slack_messages": sum(received.values()),
            "slack_duplicates": duplicates,
            "exports": len(finished),
            "exports_failed": sum(1 for e in finished if e["is_failed"]),
            "downloads_by_status": {str(k): v for k, v in downloads.items()},
            "invariants": {
                "no_5xx": server_errors == 0 and self.statuses[0] == 0,
                "no_lost_acknowledged_event": lost == 0,
                "every_notification_sent_once": (
                    bool(rows)
                    and all(state == "sent" for state, _ in rows)
                    and duplicates == 0
                    and missing == 0
                    and set(sent) <= set(hooks)
                ),
                "every_export_finished": all(
                    e["completed_at"] and not e["is_failed"] for e in finished
                )
                and downloads == Counter({200: len(finished)}),
            },
        }


def _bucket(stack: ExitStack) -> dict[str, str]:
    """Settings of a new bucket of moto's S3 server, started on loopback for the run."""
    import boto3
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # a line per S3 request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    stack.callback(server.stop)
    host, port = server.get_host_and_port()
    credentials = {
        "AWS_ACCESS_KEY_ID": "load-test-key",
        "AWS_SECRET_ACCESS_KEY": "load-test-secret-not-for-production",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    endpoint = f"http://{host}:{port}"
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=credentials["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=credentials["AWS_SECRET_ACCESS_KEY"],
        region_name="us-east-1",
    )
    client.create_bucket(Bucket="load-test")
    client.close()
    return {
        "TALLYBOOK_FILES_URL": "s3://load-test/exports",
        "TALLYBOOK_S3_ENDPOINT_URL": endpoint,
        **credentials,
    }


def _headers(tenant: dict[str, str]) -> dict[str, str]:
    return {"Authorization": f"Token {tenant['token']}"}


def _created(answer: httpx.Response) -> str:
    if answer.status_code != 201:
        raise SystemExit(
            f"setup failed: {answer.request.url.path} {answer.status_code} {answer.text}"
        )
    return str(answer.json()["id"])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_ready(base: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("tallybook serve exited at start")
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit("tallybook serve did not become ready")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


if __name__ == "__main__":
    main()
