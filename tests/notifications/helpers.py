"""Helpers for the notification settings tests: targets, chats, requests."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient

from tallybook.chats.models import Chat, Room
from tallybook.kit.db import Database
from tests.fixtures.tenants import Tenant

TARGET: dict[str, Any] = {
    "name": "Workflows created per day",
    "reporting_bound": "LOWER",
    "reporting_threshold": 10,
    "reporting_query": {"vendor": "com.giosg.bolivar", "aggregations": ["count"]},
    "reporting_field": "count",
    "reporting_period": "P1D",
}


@dataclass(frozen=True)
class TargetPath:
    tenant: Tenant
    workflow_id: str
    target_id: str

    @property
    def headers(self) -> dict[str, str]:
        return self.tenant.headers

    @property
    def url(self) -> str:
        """The target itself."""
        return f"{self.tenant.objectives}/workflows/{self.workflow_id}/targets/{self.target_id}"

    @property
    def notifications(self) -> str:
        return f"{self.url}/notifications"

    def kind(self, kind: str, setting_id: str | None = None) -> str:
        base = f"{self.notifications}/{kind}"
        return f"{base}/{setting_id}" if setting_id else base


def make_workflow(client: TestClient, tenant: Tenant) -> str:
    response = client.post(
        f"{tenant.objectives}/workflows", json={"name": "wf"}, headers=tenant.headers
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def make_target(
    client: TestClient, tenant: Tenant, workflow_id: str | None = None, **overrides: Any
) -> TargetPath:
    workflow_id = workflow_id or make_workflow(client, tenant)
    response = client.post(
        f"{tenant.objectives}/workflows/{workflow_id}/targets",
        json=TARGET | overrides,
        headers=tenant.headers,
    )
    assert response.status_code == 201, response.text
    return TargetPath(tenant, workflow_id, str(response.json()["id"]))


def insert_chat(database: Database, org_id: uuid.UUID) -> str:
    """A room and a chat written straight to the store (the chat API is not ours)."""
    with database.unit_of_work() as session:
        room = Room(organization_id=org_id, name="Reporting room")
        session.add(room)
        session.flush()
        chat = Chat(organization_id=org_id, room_id=room.id, chat_type="group")
        session.add(chat)
        session.flush()
        return str(chat.id)


def create(client: TestClient, target: TargetPath, kind: str, body: dict[str, Any]) -> Any:
    response = client.post(target.kind(kind), json=body, headers=target.headers)
    assert response.status_code == 201, response.text
    return response.json()


def assert_invalid(response: Any, loc: list[Any]) -> dict[str, Any]:
    """A 400 in the one error shape, with an error about `loc`."""
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == "invalid"
    assert isinstance(body["detail"], str) and body["detail"]
    assert loc in [error["loc"] for error in body["errors"]], body
    return dict(body)
