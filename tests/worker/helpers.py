"""A reporting world for worker tests: a tenant in a time zone, a target, settings, events."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient
from sqlalchemy import select

from tallybook.chats.models import Chat
from tallybook.events.store import EventStore, StoredEvent
from tallybook.kit.db import Database
from tallybook.notifications.models import DeliveryAttempt, Notification
from tallybook.settings import Settings
from tallybook.worker import Worker
from tests.notifications.helpers import TargetPath, create, insert_chat, make_target

VENDOR = "com.giosg.bolivar"  # what tests.notifications.helpers.TARGET counts


def at(zone: str, *args: int) -> datetime:
    """A local wall-clock time in ``zone`` as an aware UTC instant."""
    return datetime(*args, tzinfo=ZoneInfo(zone)).astimezone(UTC)  # type: ignore[misc]


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
    chat_id = insert_chat(database, tenant_target.tenant.org_id)
    with database.unit_of_work() as session:
        chat = session.get(Chat, uuid.UUID(chat_id))
        assert chat is not None
        room_id = str(chat.room_id)
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
