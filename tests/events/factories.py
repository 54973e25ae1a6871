"""Builders shared by the event tests that go through the HTTP API."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.fixtures.tenants import Tenant

STORE = "/events/v2/store"


def event(tenant: Tenant, **fields: Any) -> dict[str, Any]:
    return {
        "event_version": 1,
        "vendor": "com.example.shop",
        "category": "lead",
        "action": "created",
        "label": "form",
        "organization_id": str(tenant.org_id),
        "timestamp": "2021-07-22T12:00:12.179Z",
        **fields,
    }


def page_event(tenant: Tenant, **fields: Any) -> dict[str, Any]:
    """An event as a web page or giosg's event-sending tool posts it: no ``timestamp``
    (the server sets the receive time)."""
    body = event(tenant, **fields)
    del body["timestamp"]
    return body


def count(client: TestClient, tenant: Tenant, vendor: str = "com.example.shop") -> int:
    """How many of the tenant's events of ``vendor`` the fetch API counts in 2021."""
    response = client.post(
        f"/api/events/v2/orgs/{tenant.org_id}/fetch",
        json={
            "vendor": vendor,
            "aggregations": ["count"],
            "interval": {"start": "2021-01-01T00:00:00Z", "end": "2021-12-31T00:00:00Z"},
        },
        headers=tenant.headers,
    )
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    return int(data[0][-1]) if data else 0
