from __future__ import annotations

import copy
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.fixtures.tenants import Tenant
from tests.targets.factories import SEED_TARGET, create_target, make_workflow, targets_url


def test_seed_payload_creates_a_target(client: TestClient, tenant: Tenant) -> None:
    wf = make_workflow(client, tenant)
    target = create_target(client, tenant, wf)
    assert target["workflow"] == wf
    assert target["organization_id"] == str(tenant.org_id)
    assert target["reporting_threshold"] == 10.0
    assert target["reporting_query"] == SEED_TARGET["reporting_query"]
    assert target["notification_period"] == "P1D"
    assert target["reporting_datasource"] == "GENERIC_REPORTING"
    assert target["are_notifications_active"] is True
    assert target["target_active_from"] == "2021-04-01T10:10:57.242Z"
    assert target["target_active_until"] == "2022-04-01T10:10:57.242Z"
    listed = client.get(targets_url(tenant, wf), headers=tenant.headers).json()
    assert listed == [target]


def test_numeric_string_threshold_and_periods(client: TestClient, tenant: Tenant) -> None:
    wf = make_workflow(client, tenant)
    target = create_target(
        client,
        tenant,
        wf,
        reporting_threshold="12.5",
        reporting_period="P2W",
        notification_period="P1M",
    )
    assert target["reporting_threshold"] == 12.5
    assert (target["reporting_period"], target["notification_period"]) == ("P2W", "P1M")
    for period in ("P1D", "P1W", "P1M", "P1Y", "P3D"):
        create_target(client, tenant, wf, reporting_period=period)


BAD_CHANGES: list[dict[str, Any]] = [
    {"name": ""},
    {"name": None},
    {"reporting_bound": "MIDDLE"},
    {"reporting_threshold": "ten"},
    {"reporting_threshold": "NaN"},
    {"reporting_threshold": None},
    {"reporting_field": "sum"},
    {"reporting_period": "P0D"},
    {"reporting_period": "PT1H"},
    {"reporting_period": "P1M2D"},
    {"reporting_period": "1D"},
    {"notification_period": "P1H"},
    {"reporting_datasource": "CHAT_SESSIONS"},
    {"reporting_datasource": "ELSEWHERE"},
    {"are_notifications_active": "maybe"},
    {"are_notifications_active": "yes"},  # a JSON boolean, as notification settings take
    {"are_notifications_active": 1},
    {"target_active_from": "not a date"},
    {"target_active_until": "2021-04-01T10:10:57.242Z"},
    {"reporting_query": {"aggregations": ["count"]}},
    {"reporting_query": {"vendor": "v", "aggregations": ["median"]}},
    {"reporting_query": {"vendor": "v", "aggregations": []}},
    {"reporting_query": {"vendor": "v", "granularity": "fortnight"}},
    {"reporting_query": {"vendor": "v", "group_by": ["value"]}},
    {"reporting_query": {"vendor": "v", "group_by": ["nope; DROP TABLE targets"]}},
    {"reporting_query": {"vendor": "v", "sources": ["elsewhere"]}},
    {"reporting_query": {"vendor": "v", "interval": {}}},
    {"reporting_query": {"vendor": "v", "filters": {"type": "and", "fields": []}}},
    {"reporting_query": {"vendor": "v", "filters": {"type": "teleport"}}},
    {"reporting_query": {"vendor": "v", "filters": {"type": "selector", "dimension": "x"}}},
    {"reporting_query": {"vendor": "v", "filters": {"type": "regex", "dimension": "label"}}},
    {
        "reporting_query": {
            "vendor": "v",
            "filters": {"type": "regex", "dimension": "label", "pattern": "("},
        }
    },
    {  # a look-around: valid Python, refused by RE2, as the fetch API refuses it
        "reporting_query": {
            "vendor": "v",
            "filters": {"type": "regex", "dimension": "label", "pattern": "(?=a)"},
        }
    },
    {
        "reporting_query": {
            "vendor": "v",
            "filters": {"type": "bound", "dimension": "dim1", "ordering": "numeric", "lower": "a"},
        }
    },
    {"reporting_query": "count everything"},
    {"reporting_query": {"vendor": "nul\x00byte"}},
    {"name": "nul\x00byte"},
    {"workflow": str(uuid.uuid4())},
    {"id": str(uuid.uuid4())},
    {"organization_id": str(uuid.uuid4())},
    {"modified_at": "2021-04-01T10:10:57.242Z"},
    {"surprise": True},
]


@pytest.mark.parametrize("changes", BAD_CHANGES, ids=lambda c: ",".join(c))
def test_invalid_targets_are_400(
    client: TestClient, tenant: Tenant, changes: dict[str, Any]
) -> None:
    wf = make_workflow(client, tenant)
    body = {**copy.deepcopy(SEED_TARGET), **changes}
    response = client.post(targets_url(tenant, wf), json=body, headers=tenant.headers)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "invalid"
    assert response.json()["errors"]
    assert client.get(targets_url(tenant, wf), headers=tenant.headers).json() == []


def test_missing_required_fields_are_listed(client: TestClient, tenant: Tenant) -> None:
    wf = make_workflow(client, tenant)
    response = client.post(targets_url(tenant, wf), json={}, headers=tenant.headers)
    missing = {e["loc"][-1] for e in response.json()["errors"]}
    assert missing == {
        "name",
        "reporting_bound",
        "reporting_threshold",
        "reporting_query",
        "reporting_field",
        "reporting_period",
    }


def test_unavailable_datasource_says_so(client: TestClient, tenant: Tenant) -> None:
    wf = make_workflow(client, tenant)
    body = {**SEED_TARGET, "reporting_datasource": "VISITOR_SESSIONS"}
    response = client.post(targets_url(tenant, wf), json=body, headers=tenant.headers)
    assert "not available yet" in response.json()["detail"]


def test_patch_is_partial_and_revalidated(client: TestClient, tenant: Tenant) -> None:
    wf = make_workflow(client, tenant)
    target = create_target(client, tenant, wf)
    url = f"{targets_url(tenant, wf)}/{target['id']}"
    patched = client.patch(url, json={"reporting_threshold": "20"}, headers=tenant.headers)
    assert patched.status_code == 200
    assert patched.json()["reporting_threshold"] == 20.0
    assert patched.json()["name"] == SEED_TARGET["name"]
    # The query no longer has the field's aggregation: rejected, nothing changed.
    query = {"vendor": "v", "aggregations": ["sum"]}
    response = client.patch(url, json={"reporting_query": query}, headers=tenant.headers)
    assert response.status_code == 400
    assert client.get(url, headers=tenant.headers).json()["reporting_query"]["vendor"] == (
        "com.giosg.bolivar"
    )
    both = {"reporting_query": query, "reporting_field": "sum"}
    response = client.patch(url, json=both, headers=tenant.headers)
    assert response.status_code == 200, response.text
    assert response.json()["reporting_field"] == "sum"
    # the active window is checked against the stored value
    response = client.patch(
        url, json={"target_active_until": "2020-01-01T00:00:00Z"}, headers=tenant.headers
    )
    assert response.status_code == 400
    response = client.patch(url, json={"target_active_until": None}, headers=tenant.headers)
    assert response.json()["target_active_until"] is None
    # a pattern the event store cannot run is refused when stored, not at every evaluation
    lookaround = {"type": "regex", "dimension": "label", "pattern": "a(?!b)"}
    response = client.patch(
        url, json={"reporting_query": {**query, "filters": lookaround}}, headers=tenant.headers
    )
    assert response.status_code == 400
    assert [e["loc"] for e in response.json()["errors"]] == [["body", "reporting_query", "filters"]]
    assert "filters" not in client.get(url, headers=tenant.headers).json()["reporting_query"]


def test_notification_period_follows_reporting_period(client: TestClient, tenant: Tenant) -> None:
    wf = make_workflow(client, tenant)
    target = create_target(client, tenant, wf)
    url = f"{targets_url(tenant, wf)}/{target['id']}"
    body = client.patch(url, json={"reporting_period": "P1W"}, headers=tenant.headers).json()
    assert body["notification_period"] == "P1W"
    body = client.patch(url, json={"notification_period": "P1M"}, headers=tenant.headers).json()
    body = client.patch(url, json={"reporting_period": "P1D"}, headers=tenant.headers).json()
    assert (body["reporting_period"], body["notification_period"]) == ("P1D", "P1M")


def test_target_of_other_workflow_or_org_is_404(
    client: TestClient, tenant: Tenant, new_tenant: Callable[..., Tenant]
) -> None:
    wf = make_workflow(client, tenant)
    other_wf = make_workflow(client, tenant)
    target = create_target(client, tenant, wf)
    wrong_wf = f"{targets_url(tenant, other_wf)}/{target['id']}"
    assert client.get(wrong_wf, headers=tenant.headers).status_code == 404
    other = new_tenant()
    for url in (
        f"{targets_url(other, wf)}/{target['id']}",
        targets_url(other, wf),
    ):
        assert client.get(url, headers=other.headers).status_code == 404
    response = client.post(targets_url(other, wf), json=SEED_TARGET, headers=other.headers)
    assert response.status_code == 404


def test_delete_target(client: TestClient, tenant: Tenant) -> None:
    wf = make_workflow(client, tenant)
    target = create_target(client, tenant, wf)
    url = f"{targets_url(tenant, wf)}/{target['id']}"
    assert client.delete(url, headers=tenant.headers).status_code == 204
    assert client.get(url, headers=tenant.headers).status_code == 404
    assert client.get(targets_url(tenant, wf), headers=tenant.headers).json() == []
