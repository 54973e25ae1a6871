"""Signing in to the console and posting its forms, as a browser would, over the app's
HTTP client; and the data its pages show, made through the API."""

from __future__ import annotations

import re
from typing import Any

import httpx
from fastapi.testclient import TestClient

from tests.fixtures.tenants import Tenant
from tests.targets.factories import make_workflow

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
LEADS_TARGET: dict[str, Any] = {
    "name": "At least 5 leads a day",
    "reporting_bound": "LOWER",
    "reporting_threshold": 5,
    "reporting_query": {
        "granularity": "all",
        "vendor": "com.example.shop",
        "aggregations": ["count"],
        "filters": {"type": "selector", "dimension": "category", "value": "lead"},
    },
    "reporting_field": "count",
    "reporting_period": "P1D",
}


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found is not None, "the page has no form with a CSRF token"
    return found.group(1)


def sign_in(client: TestClient, tenant: Tenant) -> str:
    """Sign ``client`` in with the tenant's token; returns the session's CSRF token."""
    client.cookies.clear()
    form = client.get("/console/sign-in")
    assert form.status_code == 200
    answer = client.post(
        "/console/sign-in",
        data={"csrf_token": csrf_of(form.text), "token": tenant.token, "next": "/console/targets"},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/console/targets"
    return csrf_of(client.get("/console/targets/new").text)


def post_form(client: TestClient, path: str, csrf: str, data: dict[str, str]) -> httpx.Response:
    answer: httpx.Response = client.post(
        path, data={"csrf_token": csrf, **data}, follow_redirects=False
    )
    return answer


def make_target(client: TestClient, tenant: Tenant, **overrides: Any) -> tuple[str, str]:
    """A workflow and a target in it, made through the API: (workflow id, target id)."""
    workflow_id = make_workflow(client, tenant)
    response = client.post(
        f"{tenant.objectives}/workflows/{workflow_id}/targets",
        json={**LEADS_TARGET, **overrides},
        headers=tenant.headers,
    )
    assert response.status_code == 201, response.text
    return workflow_id, str(response.json()["id"])


def target_form(**overrides: str) -> dict[str, str]:
    """The target form as a browser posts it (the checkbox ticked)."""
    return {
        "name": "At least 7 leads a day",
        "reporting_bound": "LOWER",
        "reporting_threshold": "7",
        "reporting_field": "count",
        "reporting_period": "P1D",
        "notification_period": "",
        "target_active_from": "",
        "target_active_until": "",
        "are_notifications_active": "on",
        "reporting_query": '{"granularity": "all", "vendor": "com.example.shop", '
        '"aggregations": ["count"]}',
        **overrides,
    }
