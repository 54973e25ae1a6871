"""The fetch endpoint and the target test, through HTTP (the engine's own semantics are
checked in detail against a reference in this folder's other tests)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from tests.events.factories import STORE, event
from tests.fixtures.tenants import Tenant
from tests.targets.factories import create_target, make_workflow

INTERVAL = {"start": "2021-07-01T00:00:00Z", "end": "2021-08-01T00:00:00Z"}


def fetch(client: TestClient, tenant: Tenant, **body: Any) -> Any:
    payload = {"vendor": "com.example.shop", "interval": INTERVAL, **body}
    return client.post(
        f"/api/events/v2/orgs/{tenant.org_id}/fetch/", json=payload, headers=tenant.headers
    )


def send(client: TestClient, tenant: Tenant, *events: dict[str, Any]) -> None:
    response = client.post(f"{STORE}/untrusted", json={"events": list(events)})
    assert response.status_code == 200, response.text


def test_fetch_shape_grouping_and_filters(client: TestClient, tenant: Tenant) -> None:
    send(
        client,
        tenant,
        event(tenant, timestamp="2021-07-22T10:00:00Z", value=2, dim1="a"),
        event(tenant, timestamp="2021-07-22T11:00:00Z", value=3, dim1="b"),
        event(tenant, timestamp="2021-07-23T11:00:00Z", value=5, dim1="a", category="sale"),
    )
    response = fetch(
        client,
        tenant,
        granularity="day",
        group_by=["dim1"],
        aggregations=["count", "sum"],
        filters={"type": "selector", "dimension": "category", "value": "lead"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["fields"] == [
        {"name": "timestamp", "type": "dimension"},
        {"name": "dim1", "type": "dimension"},
        {"name": "count", "type": "metric"},
        {"name": "sum", "type": "metric"},
    ]
    assert body["data"] == [
        ["2021-07-22T00:00:00.000+00:00", "a", 1, 2.0],
        ["2021-07-22T00:00:00.000+00:00", "b", 1, 3.0],
    ]


def test_fetch_is_scoped_to_the_path_organisation(
    client: TestClient, tenant: Tenant, new_tenant: Callable[..., Tenant]
) -> None:
    other = new_tenant()
    send(client, other, event(other, timestamp="2021-07-22T10:00:00Z"))
    filters = {"type": "selector", "dimension": "organization_id", "value": str(other.org_id)}
    for body in ({}, {"filters": filters}):
        response = fetch(client, tenant, aggregations=["count"], **body)
        assert response.json()["data"] == []


def test_fetch_errors(client: TestClient, tenant: Tenant) -> None:
    unknown = {"type": "and", "fields": [{"type": "javascript", "function": "x"}]}
    response = fetch(client, tenant, filters=unknown)
    assert response.status_code == 406
    assert response.json()["code"] == "not_acceptable"
    for body in (
        {"filters": {"type": "and", "fields": []}},
        {"filters": {"type": "selector"}},
        {"granularity": "fortnight"},
        {"aggregations": ["median"]},
        {"group_by": ["value"]},
        {"interval": {"start": "2021-07-02T00:00:00Z", "end": "2021-07-01T00:00:00Z"}},
        {"interval": {"start": "2020-01-01T00:00:00Z", "end": "2021-07-01T00:00:00Z"}},
        {"interval": {**INTERVAL, "time_zone": "Mars/Olympus"}},
        {"vendor": None},
        {"sources": ["nowhere"]},
        {"organization_id": "x"},
    ):
        response = fetch(client, tenant, **body)
        assert response.status_code == 400, (body, response.text)
    response = client.post(
        f"/api/events/v2/orgs/{tenant.org_id}/fetch", json={"vendor": "x"}, headers=tenant.headers
    )
    assert response.status_code == 400
    # loc names places in the body, never Pydantic's validators or a union's members
    boolean = {"type": "bound", "dimension": "dim1", "lower": True}
    response = fetch(client, tenant, filters=boolean)
    assert response.status_code == 400
    for error in response.json()["errors"]:
        assert error["loc"][:4] == ["body", "filters", "bound", "lower"], error
        assert not [part for part in error["loc"] if "[" in str(part)], error


def test_target_test_measures_the_current_period(client: TestClient, tenant: Tenant) -> None:
    now = datetime.now(UTC)
    send(
        client,
        tenant,
        *[event(tenant, label="workflow", timestamp=(now - timedelta(seconds=5)).isoformat())] * 3,
        event(tenant, label="other", timestamp=(now - timedelta(seconds=5)).isoformat()),
        event(tenant, label="workflow", timestamp=(now - timedelta(days=2)).isoformat()),
    )
    wf = make_workflow(client, tenant)
    query = {
        "vendor": "com.example.shop",
        "aggregations": ["count"],
        "filters": {"type": "selector", "dimension": "label", "value": "workflow"},
    }
    target = create_target(
        client,
        tenant,
        wf,
        reporting_query=query,
        reporting_threshold=3,
        target_active_from=None,
        target_active_until=None,
    )
    url = f"{tenant.objectives}/workflows/{wf}/targets/{target['id']}/test"
    body = client.get(url, headers=tenant.headers).json()
    assert body["workflow"] == "wf"
    assert body["target"] == target["name"]
    assert body["selected_period"] == "P1D"
    assert body["value"] == 3.0
    assert body["threshold"] == 3.0
    assert body["bound"] == "LOWER"
    assert body["is_reached"] is True
    start, end = body["timespan_requested"].split("/")
    assert start == now.strftime("%Y-%m-%dT00:00:00.000Z")
    assert end.endswith("Z")


def test_target_test_is_zero_without_events(client: TestClient, tenant: Tenant) -> None:
    wf = make_workflow(client, tenant)
    target = create_target(client, tenant, wf, reporting_bound="UPPER")
    url = f"{tenant.objectives}/workflows/{wf}/targets/{target['id']}/test"
    body = client.get(url, headers=tenant.headers).json()
    assert body["value"] == 0.0
    assert body["is_reached"] is True  # an UPPER target holds while value < threshold
