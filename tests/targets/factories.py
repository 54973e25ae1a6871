"""Workflows and targets made through the API, for any test that needs one."""

from __future__ import annotations

import copy
from typing import Any

from fastapi.testclient import TestClient

from tests.fixtures.tenants import Tenant

SEED_TARGET: dict[str, Any] = {
    "name": "Amount of workflows created in one day",
    "reporting_bound": "LOWER",
    "reporting_threshold": 10,
    "reporting_query": {
        "granularity": "all",
        "group_by": ["organization_id"],
        "vendor": "com.giosg.bolivar",
        "aggregations": ["count"],
        "filters": {
            "type": "and",
            "fields": [{"type": "selector", "dimension": "label", "value": "workflow"}],
        },
    },
    "reporting_field": "count",
    "reporting_period": "P1D",
    "target_active_from": "2021-04-01T10:10:57.242Z",
    "target_active_until": "2022-04-01T12:10:57.242+02:00",
}


def make_workflow(client: TestClient, tenant: Tenant) -> str:
    response = client.post(
        f"{tenant.objectives}/workflows", json={"name": "wf"}, headers=tenant.headers
    )
    assert response.status_code == 201
    return str(response.json()["id"])


def create_target(
    client: TestClient, tenant: Tenant, workflow_id: str, **changes: Any
) -> dict[str, Any]:
    body = {**copy.deepcopy(SEED_TARGET), **changes}
    url = f"{tenant.objectives}/workflows/{workflow_id}/targets"
    response = client.post(url, json=body, headers=tenant.headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


def targets_url(tenant: Tenant, workflow_id: str) -> str:
    return f"{tenant.objectives}/workflows/{workflow_id}/targets"
