"""Builders shared by the event tests that go through the HTTP API."""

from __future__ import annotations

from typing import Any

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
