"""Issue 16 item 1: one event per body, as giosg's own tool sends it to v2, and the older
v1 endpoint that takes nothing else."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from tests.events.factories import STORE, count, event, page_event
from tests.fixtures.tenants import Tenant

V1 = "/events/v1/store"
SINGLE_URLS = [f"{STORE}/untrusted", f"{V1}/untrusted"]


def giosg_tool_event(tenant: Tenant) -> dict[str, object]:
    """What giosg's event-sending page posts: one object, no ``timestamp`` or ``source``."""
    return page_event(tenant, properties=["a"], dim1="x", value=35.2)


@pytest.mark.parametrize("url", SINGLE_URLS)
def test_one_event_object_is_stored_with_the_receive_time(
    client: TestClient, tenant: Tenant, url: str
) -> None:
    before = datetime.now(UTC)
    response = client.post(url, json=giosg_tool_event(tenant))
    assert response.status_code == 200, response.text
    assert response.json() == {"stored": 1, "duplicates": 0}
    fetched = client.post(
        f"/api/events/v2/orgs/{tenant.org_id}/fetch",
        json={
            "vendor": "com.example.shop",
            "granularity": "minute",
            "aggregations": ["count", "sum"],
            "interval": {
                "start": (before - timedelta(minutes=2)).isoformat(),
                "end": (before + timedelta(minutes=2)).isoformat(),
            },
        },
        headers=tenant.headers,
    )
    assert fetched.status_code == 200, fetched.text
    rows = fetched.json()["data"]
    assert [row[1:] for row in rows] == [[1, 35.2]]
    bucket = datetime.fromisoformat(rows[0][0].replace("Z", "+00:00"))
    assert before - timedelta(minutes=1) <= bucket <= before + timedelta(minutes=1)


@pytest.mark.parametrize("url", SINGLE_URLS)
def test_one_event_resent_with_its_id_is_a_duplicate(
    client: TestClient, tenant: Tenant, url: str
) -> None:
    body = event(tenant, id=str(uuid.uuid4()))
    assert client.post(url, json=body).json() == {"stored": 1, "duplicates": 0}
    assert client.post(url, json=body).json() == {"stored": 0, "duplicates": 1}
    assert count(client, tenant) == 1


@pytest.mark.parametrize("url", SINGLE_URLS)
def test_errors_name_the_event_fields(client: TestClient, tenant: Tenant, url: str) -> None:
    body = event(tenant, value="lots", color="red")
    del body["vendor"]
    response = client.post(url, json=body)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    locs = {tuple(error["loc"]) for error in response.json()["errors"]}
    assert locs == {("body", "vendor"), ("body", "value"), ("body", "color")}
    assert count(client, tenant) == 0


@pytest.mark.parametrize("url", SINGLE_URLS)
def test_a_single_event_gets_the_batch_checks(
    client: TestClient, tenant: Tenant, new_tenant: Callable[..., Tenant], url: str
) -> None:
    future = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    cases = [
        (event(tenant, timestamp=future), ("body", "timestamp")),
        (event(tenant, source="trusted"), ("body", "source")),
        (event(tenant, organization_id=str(uuid.uuid4())), ("body", "organization_id")),
        (event(tenant, label="a\u0000b"), ("body", "label")),
    ]
    for body, loc in cases:
        response = client.post(url, json=body)
        assert response.status_code == 400, body
        assert [tuple(e["loc"]) for e in response.json()["errors"]] == [loc]
    inactive = new_tenant(active=False)
    assert client.post(url, json=event(inactive)).status_code == 403
    assert count(client, tenant) == 0


def test_v2_still_explains_a_broken_batch(client: TestClient, tenant: Tenant) -> None:
    response = client.post(f"{STORE}/untrusted", json={"events": [event(tenant), {}]})
    assert response.status_code == 400
    assert all(e["loc"][:3] == ["body", "events", 1] for e in response.json()["errors"])
    response = client.post(f"{STORE}/untrusted", json=[event(tenant)])
    assert response.status_code == 400
    assert count(client, tenant) == 0


@pytest.mark.parametrize(
    ("content", "loc"),
    [
        (b"[]", ["body"]),
        (b"3", ["body"]),
        (b"{", ["body"]),
        (b"", ["body"]),
        (b'{"events": []}', ["body", "events"]),
    ],
)
def test_v1_takes_one_event_object_and_nothing_else(
    client: TestClient, tenant: Tenant, content: bytes, loc: list[str]
) -> None:
    response = client.post(
        f"{V1}/untrusted", content=content, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert [e["loc"] for e in response.json()["errors"]] == [loc]


def test_v1_trusted_needs_a_token_and_v1_has_no_external(
    client: TestClient, tenant: Tenant, new_tenant: Callable[..., Tenant]
) -> None:
    body = event(tenant)
    assert client.post(f"{V1}/trusted", json=body).status_code == 401
    other = new_tenant()
    assert client.post(f"{V1}/trusted", json=body, headers=other.headers).status_code == 403
    response = client.post(f"{V1}/trusted", json=body, headers=tenant.headers)
    assert response.json() == {"stored": 1, "duplicates": 0}
    # a trusted path is for servers: JSON only
    plain = client.post(
        f"{V1}/trusted",
        content=b"{}",
        headers={**tenant.headers, "Content-Type": "text/plain"},
    )
    assert plain.status_code == 415
    for method in (client.post, client.options):
        assert method(f"{V1}/external").status_code == 404
    assert count(client, tenant) == 1
