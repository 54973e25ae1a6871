"""Builders for the notification tests: targets, chats and requests for the settings API,
and sample cards for the channel and rendering tests."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from tallybook.chats.models import Chat, Room
from tallybook.kit.db import Database
from tallybook.notifications.cards.data import Card, ChartPoint, NotificationKind, PeriodLine
from tallybook.targets.bounds import status_of
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


# --- sample cards ---------------------------------------------------------------------

# Mon 2 Mar 2026 00:00 in Helsinki (EET, UTC+2).
MONDAY = datetime(2026, 3, 1, 22, 0, tzinfo=UTC)


def day_line(start: datetime, value: float, previous: float | None, **card: Any) -> PeriodLine:
    bound, threshold = card.get("bound", "LOWER"), card.get("threshold", 100.0)
    return PeriodLine(
        start=start,
        end=start + timedelta(days=1),
        value=value,
        status=status_of(bound, value, threshold),
        previous_value=previous,
    )


def chart(values: list[float], last_start: datetime = MONDAY) -> tuple[ChartPoint, ...]:
    count = len(values)
    return tuple(
        ChartPoint(last_start - timedelta(days=count - 1 - i), value)
        for i, value in enumerate(values)
    )


def snapshot(**overrides: Any) -> Card:
    """A one-day snapshot: 120 signups against "at least 100", 100 the day before."""
    values: dict[str, Any] = {
        "kind": NotificationKind.SNAPSHOT,
        "organization": "Acme Oy",
        "workflow": "Sales funnel",
        "target": "Daily signups",
        "timezone": "Europe/Helsinki",
        "reporting_period": "P1D",
        "threshold": 100.0,
        "bound": "LOWER",
        "lines": (day_line(MONDAY, 120, 100),),
        "chart": chart([80, 95, 130, 100, 120]),
    }
    values.update(overrides)
    return Card(**values)


def alert(**overrides: Any) -> Card:
    """An UPPER target broken during the day: 37 open tickets, "below 30"."""
    checked = MONDAY + timedelta(hours=14, minutes=35)  # 14:35 in Helsinki
    line = PeriodLine(MONDAY, checked, 37.0, "broken", previous_value=25.0)
    values: dict[str, Any] = {
        "kind": NotificationKind.ALERT,
        "organization": "Acme Oy",
        "workflow": "Support",
        "target": "Open tickets",
        "timezone": "Europe/Helsinki",
        "reporting_period": "P1D",
        "threshold": 30.0,
        "bound": "UPPER",
        "lines": (line,),
        "chart": chart([20, 28, 25, 37]),
    }
    values.update(overrides)
    return Card(**values)
