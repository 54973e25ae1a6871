"""A reporting world for worker tests: a tenant in a time zone, a target, settings, events."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient
from sqlalchemy import select

from tallybook.chats.models import Chat
from tallybook.events.records import StoredEvent
from tallybook.events.store import EventStore
from tallybook.kit.db import Database
from tallybook.notifications.models import DeliveryAttempt, Notification
from tallybook.settings import Settings
from tallybook.worker.loop import Worker
from tests.fixtures.slack_server import SlackServer
from tests.notifications.factories import TargetPath, create, insert_chat, make_target

VENDOR = "com.giosg.bolivar"  # what tests.notifications.factories.TARGET counts


def at(
    zone: str, year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    """A local wall-clock time in ``zone`` as an aware UTC instant."""
    return datetime(year, month, day, hour, minute, second, tzinfo=ZoneInfo(zone)).astimezone(UTC)


def add_events(store: EventStore, org_id: uuid.UUID, *instants: datetime) -> None:
    store.insert(
        [
            StoredEvent(
                organization_id=org_id,
                source="untrusted",
                timestamp=instant,
                received_at=instant,
                event_version=1,
                vendor=VENDOR,
                category="c",
                action="a",
                label="l",
            )
            for instant in instants
        ]
    )


def worker_settings(database: Database, **overrides: Any) -> Settings:
    return database.settings.model_copy(update=overrides)


def make_worker(database: Database, store: EventStore, **overrides: Any) -> Worker:
    return Worker(database, store, worker_settings(database, **overrides), name="test-worker")


@dataclass(frozen=True)
class World:
    target: TargetPath
    room_id: str
    chat_id: str

    @property
    def org_id(self) -> uuid.UUID:
        return self.target.tenant.org_id


def world(
    client: TestClient, database: Database, tenant_target: TargetPath, *, bar: bool = True
) -> World:
    org_id = tenant_target.tenant.org_id
    chat_id = insert_chat(database, org_id)
    with database.unit_of_work() as session:
        stmt = select(Chat.room_id).where(
            Chat.organization_id == org_id, Chat.id == uuid.UUID(chat_id)
        )
        room_id = str(session.scalars(stmt).one())
    if bar:
        create(client, tenant_target, "bar", {"channel_id": chat_id, "name": "room"})
    return World(tenant_target, room_id, chat_id)


def new_target(client: TestClient, tenant: Any, **overrides: Any) -> TargetPath:
    return make_target(client, tenant, **overrides)


def notifications(database: Database, target_id: str) -> list[Notification]:
    with database.unit_of_work() as session:
        stmt = (
            select(Notification)
            .where(Notification.target_id == uuid.UUID(target_id))
            .order_by(Notification.created_at)
        )
        return list(session.scalars(stmt))


def attempts(database: Database, notification_id: uuid.UUID) -> list[DeliveryAttempt]:
    with database.unit_of_work() as session:
        stmt = (
            select(DeliveryAttempt)
            .where(DeliveryAttempt.notification_id == notification_id)
            .order_by(DeliveryAttempt.number)
        )
        return list(session.scalars(stmt))


def chat_cards(client: TestClient, world: World) -> list[dict[str, Any]]:
    """The reporting cards in the BAR chat, through the chat messages API."""
    tenant = world.target.tenant
    url = f"{tenant.v5}/rooms/{world.room_id}/chats/{world.chat_id}/messages"
    response = client.get(url, headers=tenant.headers)
    assert response.status_code == 200, response.text
    return [m for m in response.json()["results"] if m["type"] == "reporting_card"]


def worker_process(
    database: Database,
    slack: SlackServer | None,
    data_dir: Path,
    now: datetime | None,
    **settings: str,
) -> subprocess.Popen[bytes]:
    """A real ``tallybook worker --once [--now]`` process on the test's relational
    database, with its own event store (DuckDB takes one process), files under
    ``data_dir`` and ``TALLYBOOK_<NAME>`` settings."""
    env = {
        **os.environ,
        "TALLYBOOK_DATABASE_URL": database.settings.resolved_database_url,
        "TALLYBOOK_DATA_DIR": str(data_dir),
        "TALLYBOOK_SECRET_KEY": "test-secret-key-not-for-production",
        "TALLYBOOK_OUTBOUND_ALLOW_PRIVATE": "1",
        "TALLYBOOK_LOG_LEVEL": "warning",
        **({"TALLYBOOK_SLACK_API_URL": slack.api_url} if slack else {}),
        **{f"TALLYBOOK_{name.upper()}": value for name, value in settings.items()},
    }
    command = [sys.executable, "-m", "tallybook", "worker", "--once"]
    if now is not None:
        command += ["--now", now.isoformat()]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
