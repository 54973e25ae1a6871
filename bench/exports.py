"""Benchmark report exports: a real `tallybook worker` making logs (and stats) exports.

Writes N chat messages (``--messages``, in chats of ``--messages-per-chat``) into a fresh
relational store, starts one export per format through the HTTP app, and runs a real
`tallybook worker --once` process for each: the time is the worker's own (its log line
"report export completed"), the memory the process's peak RSS (``VmHWM``, sampled). The
floor is the same rows written as CSV by the database itself in the same run:
`COPY (…) TO STDOUT` on PostgreSQL, the `sqlite3` shell's CSV mode on SQLite.

Targets (issue 12): 1,000,000 messages → CSV < 15 s, XLSX < 90 s, peak worker RSS
< 300 MB, on SQLite and PostgreSQL.

    .venv/bin/python bench/exports.py --messages 1000000 --start-postgres
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from fastapi.testclient import TestClient

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _common import machine  # noqa: E402
from tests.fixtures.postgres import create_database, postgres_server  # noqa: E402
from tests.fixtures.tenants import Tenant, make_tenant  # noqa: E402

from tallybook.app import create_app  # noqa: E402
from tallybook.chats import repository as chats  # noqa: E402
from tallybook.chats.models import Room  # noqa: E402
from tallybook.kit.db import Database  # noqa: E402
from tallybook.kit.migrate import upgrade  # noqa: E402
from tallybook.settings import Settings  # noqa: E402

SECRET = "bench-secret-key"
START = datetime(2024, 1, 1, tzinfo=UTC)
WORDS = [
    *("hello", "hi", "thanks", "order", "delivery", "price", "invoice", "account"),
    *("password", "reset", "help", "please", "when", "where", "how", "much"),
    *("shipping", "return", "refund", "size", "colour", "available", "today", "tomorrow"),
]
INSERT_BATCH = 20_000
KINDS = {
    "csv": ("logs", "csv"),
    "xlsx": ("logs", "xlsx"),
    "txt": ("logs", "txt"),
    "stats-csv": ("stats", "csv"),
    "stats-xlsx": ("stats", "xlsx"),
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=1_000_000, help="messages in all")
    parser.add_argument("--messages-per-chat", type=int, default=10, help="messages a chat")
    parser.add_argument(
        "--exports",
        default="csv,xlsx",
        help=f"comma-separated, of: {', '.join(KINDS)} (default csv,xlsx)",
    )
    parser.add_argument(
        "--postgres-url",
        help="also run on this PostgreSQL server: a URL without a database name, e.g. "
        "postgresql://postgres@127.0.0.1:5432; a new database is created in it (and kept)",
    )
    parser.add_argument(
        "--start-postgres",
        action="store_true",
        help="start a throwaway PostgreSQL server (tests/fixtures/postgres.py) and run on it",
    )
    parser.add_argument("--skip-sqlite", action="store_true", help="do not run on SQLite")
    parser.add_argument("--seed", type=int, default=1, help="random seed")
    return parser.parse_args()


@dataclass
class Measured:
    name: str
    rows: int
    seconds: float
    bytes: int
    peak_rss_mb: float
    cpu_seconds: float  # the whole worker process, start-up included

    def line(self) -> str:
        rate = self.rows / self.seconds if self.seconds else float("inf")
        return (
            f"  {self.name:12} {self.rows:>9,} rows  {self.seconds:7.2f} s  "
            f"{rate:>9,.0f} rows/s  {self.bytes / 2**20:7.1f} MB file  "
            f"peak RSS {self.peak_rss_mb:6.0f} MB  process CPU {self.cpu_seconds:6.1f} s"
        )


def fill(database: Database, tenant: Tenant, messages: int, per_chat: int, seed: int) -> str:
    """A room with ``messages`` messages in chats of about ``per_chat``, written in bulk."""
    rng = random.Random(seed)
    with database.unit_of_work() as session:
        room = Room(organization_id=tenant.org_id, name="Bench")
        session.add(room)
        session.flush()
        room_id = room.id
    chat_rows: list[dict[str, Any]] = []
    message_rows: list[dict[str, Any]] = []
    for chat_rows, message_rows in _batches(tenant.org_id, room_id, messages, per_chat, rng):
        with database.unit_of_work() as session:
            chats.insert_chats(session, chat_rows)
            chats.insert_messages(session, message_rows)
    return str(room_id)


def _batches(
    org: uuid.UUID, room: uuid.UUID, messages: int, per_chat: int, rng: random.Random
) -> Iterator[tuple[list[dict[str, Any]], list[dict[str, Any]]]]:
    chat_rows: list[dict[str, Any]] = []
    message_rows: list[dict[str, Any]] = []
    left, n = messages, 0
    while left > 0:
        count = min(left, rng.randint(1, 2 * per_chat - 1))
        left -= count
        created = START + timedelta(seconds=n * 30)
        chat_id, n = uuid.uuid4(), n + 1
        visitor, users = 0, 0
        for m in range(count):
            sender = "visitor" if m % 2 == 0 else "user"
            visitor += sender == "visitor"
            users += sender == "user"
            text = " ".join(rng.choices(WORDS, k=rng.randint(3, 14)))
            message_rows.append(
                {
                    "id": uuid.uuid4(),
                    "organization_id": org,
                    "chat_id": chat_id,
                    "type": "msg",
                    "created_at": created + timedelta(seconds=m),
                    "sender_type": sender,
                    "sender_id": f"visitor-{n}" if sender == "visitor" else "agent-1",
                    "sender_name": "Visitor" if sender == "visitor" else "Anna",
                    "message": text.capitalize() + rng.choice([".", "?", "!"]),
                }
            )
        chat_rows.append(
            {
                "pk": uuid.uuid4(),
                "id": chat_id,
                "organization_id": org,
                "room_id": room,
                "created_at": created,
                "ended_at": created + timedelta(seconds=count + 60),
                "updated_at": created,
                "message_count": count,
                "visitor_message_count": visitor,
                "user_message_count": users,
                "first_message_at": created,
                "first_message_type": "msg",
                "last_msg_at": created + timedelta(seconds=count - 1),
                "last_msg_sender_type": "visitor" if count % 2 else "user",
            }
        )
        if len(message_rows) >= INSERT_BATCH:
            yield chat_rows, message_rows
            chat_rows, message_rows = [], []
    if chat_rows:
        yield chat_rows, message_rows


def start_export(client: TestClient, tenant: Tenant, room_id: str, kind: str) -> str:
    export_type, file_format = KINDS[kind]
    body = {
        "type": export_type,
        "format": file_format,
        "room_id": room_id,
        "starting_at": START.isoformat(),
        "ending_at": (START + timedelta(days=3650)).isoformat(),
    }
    url = f"{tenant.v5}/users/{tenant.user_id}/reportexports"
    response = client.post(url, json=body, headers=tenant.headers)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def run_worker(settings: Settings, data_dir: Path, name: str) -> Measured:
    """One `tallybook worker --once`: the export it made, by its own log line."""
    env = {
        **os.environ,
        "TALLYBOOK_DATA_DIR": str(data_dir),
        "TALLYBOOK_FILES_URL": (settings.data_dir / "files").resolve().as_uri(),
        "TALLYBOOK_SECRET_KEY": SECRET,
        "TALLYBOOK_LOG_LEVEL": "info",
    }
    env["TALLYBOOK_DATABASE_URL"] = settings.resolved_database_url
    command = [sys.executable, "-m", "tallybook", "worker", "--once"]
    with tempfile.TemporaryFile() as err:
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=err)
        peak = _HighWater(process.pid)
        _pid, status, usage = os.wait4(process.pid, 0)
        peak.stop()
        process.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        logged = err.read().decode()
    if process.returncode != 0:
        raise SystemExit(f"the worker failed:\n{logged}")
    for line in logged.splitlines():
        entry = orjson.loads(line) if line.startswith("{") else {}
        if entry.get("message") == "report export completed":
            cpu = usage.ru_utime + usage.ru_stime
            return Measured(name, entry["rows"], entry["seconds"], entry["bytes"], peak.mb, cpu)
    raise SystemExit(f"the worker made no export:\n{logged}")


class _HighWater:
    """The process's peak resident memory, read from ``/proc/<pid>/status`` (``VmHWM``)
    every 20 ms while it runs.

    Not ``wait4``'s ``ru_maxrss``: Linux carries a forked child's high-water mark across
    ``exec``, and a child forked from this process starts with this process's resident
    pages, so ``ru_maxrss`` would report the benchmark's own size."""

    def __init__(self, pid: int) -> None:
        self.path = Path(f"/proc/{pid}/status")
        self.kb = 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    @property
    def mb(self) -> float:
        return self.kb / 1024

    def _watch(self) -> None:
        while not self._done.wait(0.02):
            try:
                lines = self.path.read_text().splitlines()
            except OSError:  # gone (or a zombie being reaped)
                return
            for line in lines:
                if line.startswith("VmHWM:"):
                    self.kb = max(self.kb, int(line.split()[1]))

    def stop(self) -> None:
        self._done.set()
        self._thread.join()


def floor(settings: Settings, tenant: Tenant, room_id: str) -> tuple[int, float]:
    """(rows, seconds) of the database writing the same rows as CSV itself."""
    room = uuid.UUID(room_id)
    columns = (
        "c.id, c.created_at, c.ended_at, m.created_at, m.sender_type, "
        "coalesce(m.sender_name, m.sender_public_name), m.type, m.message"
    )
    join = "m.organization_id = c.organization_id AND m.chat_id = c.id"
    order = "c.created_at, c.id, m.created_at, m.id"
    if settings.is_embedded:
        path = settings.resolved_database_url.removeprefix("sqlite:///")
        sql = (
            f"SELECT {columns} FROM chats c LEFT JOIN chat_messages m ON {join} "
            f"WHERE c.organization_id = '{tenant.org_id.hex}' AND c.room_id = '{room.hex}' "
            f"ORDER BY {order};"
        )
        started = time.perf_counter()
        done = subprocess.run(
            ["sqlite3", "-csv", "-header", path, sql],
            check=True,
            stdout=subprocess.PIPE,
        )
        seconds = time.perf_counter() - started
        return done.stdout.count(b"\n") - 1, seconds
    import psycopg

    sql = (
        f"COPY (SELECT {columns} FROM chats c LEFT JOIN chat_messages m ON {join} "
        f"WHERE c.organization_id = '{tenant.org_id}' AND c.room_id = '{room}' "
        f"ORDER BY {order}) TO STDOUT WITH (FORMAT csv, HEADER)"
    )
    url = settings.resolved_database_url.replace("postgresql+psycopg://", "postgresql://")
    lines = 0
    started = time.perf_counter()
    with (
        psycopg.connect(url) as connection,
        connection.cursor() as cursor,
        cursor.copy(sql) as copy,
    ):
        for block in copy:
            lines += bytes(block).count(b"\n")
    return lines - 1, time.perf_counter() - started


def bench(label: str, settings: Settings, args: argparse.Namespace, scratch: Path) -> None:
    database = Database(settings)
    upgrade(database.engine)
    tenant = make_tenant(database)
    began = time.perf_counter()
    room_id = fill(database, tenant, args.messages, args.messages_per_chat, args.seed)
    print(f"{label}: {args.messages:,} messages written in {time.perf_counter() - began:.1f} s")
    rows, seconds = floor(settings, tenant, room_id)
    tool = "sqlite3 -csv" if settings.is_embedded else "COPY … TO STDOUT (csv)"
    rate = rows / seconds
    print(f"  {'floor':12} {rows:>9,} rows  {seconds:7.2f} s  {rate:>9,.0f} rows/s  ({tool})")
    app = create_app(settings, database)
    with TestClient(app) as client:
        for kind in args.exports.split(","):
            start_export(client, tenant, room_id, kind)
            print(run_worker(settings, scratch / f"worker-{label}-{kind}", kind).line(), flush=True)
    database.close()


def main() -> None:
    args = parse_args()
    unknown = set(args.exports.split(",")) - set(KINDS)
    if unknown:
        raise SystemExit(f"unknown exports: {', '.join(sorted(unknown))}")
    print(machine())
    print(f"command: {' '.join(sys.argv)}")
    with ExitStack() as stack:
        scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="tb-exports-")))
        if not args.skip_sqlite:
            data = scratch / "sqlite"
            bench(
                "SQLite", Settings(data_dir=data, secret_key=SECRET, _env_file=None), args, scratch
            )
            shutil.rmtree(data)
        server = args.postgres_url
        if args.start_postgres and not server:
            server = stack.enter_context(postgres_server())
        if server:
            url = create_database(server, f"tallybook_bench_exports_{uuid.uuid4().hex[:8]}")
            settings = Settings(
                data_dir=scratch / "postgresql", database_url=url, secret_key=SECRET, _env_file=None
            )
            bench("PostgreSQL", settings, args, scratch)


if __name__ == "__main__":
    main()
