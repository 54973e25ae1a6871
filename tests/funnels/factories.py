"""Builders shared by the workflow reporting tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient

from tallybook.events.records import StoredEvent
from tests.fixtures.tenants import Tenant

T0 = datetime(2022, 11, 3, tzinfo=UTC)
INTERVAL = {"start": "2022-11-03T00:00:00+00:00", "end": "2022-11-04T00:00:00+00:00"}


def reporting(tenant: Tenant) -> str:
    return f"/api/reporting/workflow/v1/orgs/{tenant.org_id}"


def step_url(tenant: Tenant, workflow_id: uuid.UUID | str, step: int | str) -> str:
    return f"{reporting(tenant)}/workflows/{workflow_id}/step/{step}"


def source_url(tenant: Tenant, workflow_id: uuid.UUID | str) -> str:
    return f"{reporting(tenant)}/workflows/{workflow_id}/source_data"


def chart_url(tenant: Tenant, workflow_id: uuid.UUID | str) -> str:
    return f"{reporting(tenant)}/workflows/{workflow_id}/query/"


def create_workflow(client: TestClient, tenant: Tenant, kind: str = "interaction") -> uuid.UUID:
    response = client.post(
        f"{tenant.objectives}/workflows",
        json={"name": f"{kind} workflow", "type": kind},
        headers=tenant.headers,
    )
    assert response.status_code == 201, response.text
    return uuid.UUID(response.json()["id"])


def payload(**fields: Any) -> dict[str, Any]:
    return {"filters": [], "interval": INTERVAL, **fields}


def step_event(
    organization_id: uuid.UUID,
    workflow_id: uuid.UUID,
    step: int,
    at: datetime,
    **fields: Any,
) -> StoredEvent:
    values: dict[str, Any] = {
        "source": "trusted",
        "event_version": 1,
        "vendor": "com.giosg.interaction",
        "category": "Interaction",
        "action": f"view-{step}",
        "label": str(workflow_id),
        "dim4": f"Step {step}",
        "dim5": str(step),
        "session_id": "session-1",
        "visitor_id": "visitor-1",
        **fields,
    }
    return StoredEvent(organization_id=organization_id, timestamp=at, received_at=at, **values)


def goal_event(
    organization_id: uuid.UUID, goal_id: str, at: datetime, **fields: Any
) -> StoredEvent:
    values: dict[str, Any] = {
        "source": "trusted",
        "event_version": 1,
        "vendor": "com.giosg.goals",
        "category": "goal",
        "action": "reached",
        "label": goal_id,
        "session_id": "session-1",
        "visitor_id": "visitor-1",
        **fields,
    }
    return StoredEvent(organization_id=organization_id, timestamp=at, received_at=at, **values)
