"""Benchmark the NDJSON chat import through the real HTTP app.

Generates N chat messages spread over chats, posts them to
``POST /api/v5/orgs/{org}/rooms/{room}/chats/import`` through the ASGI app (FastAPI's
TestClient: every middleware, the auth and the real database), and prints messages/s.
Runs on a fresh SQLite file, and on PostgreSQL when ``--postgres-url`` is given (or
``--start-postgres`` starts a throwaway server from the installed binaries).

    .venv/bin/python bench/import_chats.py --messages 100000
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
from fastapi.testclient import TestClient

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fixtures.postgres import create_database, postgres_server  # noqa: E402
from tests.fixtures.tenants import make_tenant  # noqa: E402

from tallybook.app import create_app  # noqa: E402
from tallybook.kit.db import Database  # noqa: E402
from tallybook.kit.migrate import upgrade  # noqa: E402
from tallybook.settings import Settings  # noqa: E402

WORDS = [
    *("hello", "hi", "thanks", "order", "delivery", "price", "invoice", "account"),
    *("password", "reset", "help", "please", "when", "where", "how", "much"),
    *("shipping", "return", "refund", "size", "colour", "available", "today", "tomorrow"),
]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=100_000, help="messages in all")
    parser.add_argument(
        "--messages-per-chat", type=int, default=10, help="average messages per chat (1..2n-1)"
    )
    parser.add_argument(
        "--chats-per-request",
        type=int,
        default=0,
        help="split the import into requests of this many chats (0: one request)",
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


def generate(messages: int, per_chat: int, rng: random.Random) -> list[bytes]:
    """NDJSON lines; messages within a chat are shuffled, as an export may list them."""
    lines = []
    start = datetime(2024, 1, 1, tzinfo=UTC)
    left = messages
    while left > 0:
        count = min(left, rng.randint(1, 2 * per_chat - 1))
        left -= count
        created = start + timedelta(seconds=rng.randint(0, 365 * 86400))
        chat_messages = [_message(created, i, rng) for i in range(count)]
        rng.shuffle(chat_messages)
        ended = created + timedelta(minutes=count + 5) if rng.random() < 0.8 else None
        chat = {
            "id": str(uuid.uuid4()),
            "created_at": created.isoformat(),
            "ended_at": ended.isoformat() if ended else None,
            "first_visitor_message_url": "https://shop.example.com/products/42",
            "messages": chat_messages,
        }
        lines.append(orjson.dumps(chat))
    return lines


def _message(created: datetime, index: int, rng: random.Random) -> dict[str, object]:
    sender = "visitor" if index % 2 == 0 else "user"
    kind = "autosuggest" if index == 0 and rng.random() < 0.3 else "msg"
    return {
        "type": kind,
        "created_at": (created + timedelta(seconds=20 * index)).isoformat(),
        "sender_type": sender,
        "sender_id": str(uuid.uuid4()) if sender == "user" else None,
        "sender_name": "Alice Operator" if sender == "user" else "Visitor",
        "message": " ".join(rng.choices(WORDS, k=rng.randint(3, 30))),
    }


def requests(lines: list[bytes], per_request: int) -> Iterator[bytes]:
    step = per_request or len(lines)
    for start in range(0, len(lines), step):
        yield b"\n".join(lines[start : start + step]) + b"\n"


def run(name: str, settings: Settings, bodies: list[bytes], expected: int) -> None:
    database = Database(settings)
    upgrade(database.engine)
    tenant = make_tenant(database)
    with TestClient(create_app(settings, database)) as client:
        room = client.post(f"{tenant.v5}/rooms", json={"name": "Bench"}, headers=tenant.headers)
        url = f"{tenant.v5}/rooms/{room.json()['id']}/chats/import"
        chats = messages = 0
        started = time.perf_counter()
        for body in bodies:
            response = client.post(
                url,
                content=body,
                headers={**tenant.headers, "Content-Type": "application/x-ndjson"},
            )
            if response.status_code != 201:
                raise SystemExit(f"{name}: {response.status_code} {response.text[:500]}")
            chats += response.json()["chats"]
            messages += response.json()["messages"]
        elapsed = time.perf_counter() - started
    database.close()
    assert messages == expected, (messages, expected)
    print(
        f"{name:<10} {chats:>7,} chats {messages:>8,} messages in {elapsed:6.2f} s "
        f"= {messages / elapsed:>9,.0f} messages/s ({len(bodies)} request(s))"
    )


def settings_for(data_dir: Path, url: str | None) -> Settings:
    return Settings(
        data_dir=data_dir,
        database_url=url,
        secret_key="bench-secret-key",
        import_max_bytes=1024 * 1024 * 1024,
        _env_file=None,
    )


def main() -> None:
    args = parse_args()
    started = time.perf_counter()
    lines = generate(args.messages, args.messages_per_chat, random.Random(args.seed))
    bodies = list(requests(lines, args.chats_per_request))
    size = sum(len(b) for b in bodies) / 1e6
    print(
        f"generated {len(lines):,} chats, {args.messages:,} messages, {size:.1f} MB of NDJSON "
        f"in {time.perf_counter() - started:.1f} s"
    )
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="tallybook-bench-")))
        if not args.skip_sqlite:
            run("sqlite", settings_for(tmp / "sqlite", None), bodies, args.messages)
        server = args.postgres_url
        if server is None and args.start_postgres:
            server = stack.enter_context(postgres_server())
        if server is not None:
            url = create_database(server, f"tallybook_bench_{uuid.uuid4().hex[:8]}")
            run("postgresql", settings_for(tmp / "pg", url), bodies, args.messages)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory of this process (generator, client and app): {peak:,.0f} MB")


if __name__ == "__main__":
    main()
