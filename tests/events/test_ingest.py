from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.events.factories import STORE, count, event
from tests.fixtures.tenants import Tenant


def test_untrusted_needs_no_token(client: TestClient, tenant: Tenant) -> None:
    body = {"events": [event(tenant), event(tenant, value=35.2, properties=["a", "b"])]}
    response = client.post(f"{STORE}/untrusted", json=body)
    assert response.status_code == 200, response.text
    assert response.json() == {"stored": 2, "duplicates": 0}
    assert count(client, tenant) == 2


def test_trailing_slash_and_resends_with_ids_are_idempotent(
    client: TestClient, tenant: Tenant
) -> None:
    ids = [str(uuid.uuid4()) for _ in range(3)]
    body = {"events": [event(tenant, id=i) for i in ids]}
    assert client.post(f"{STORE}/untrusted/", json=body).json() == {"stored": 3, "duplicates": 0}
    again = {"events": [*body["events"], event(tenant, id=str(uuid.uuid4()))]}
    assert client.post(f"{STORE}/untrusted", json=again).json() == {"stored": 1, "duplicates": 3}
    twice = {"events": [event(tenant, id=ids[0]), event(tenant, id=str(uuid.uuid4()))] * 2}
    result = client.post(f"{STORE}/untrusted", json=twice).json()
    assert result == {"stored": 1, "duplicates": 3}
    assert count(client, tenant) == 5


def test_trusted_sources_need_a_token_of_the_organisation(
    client: TestClient, tenant: Tenant, new_tenant: Callable[..., Tenant]
) -> None:
    body = {"events": [event(tenant)]}
    for source in ("trusted", "external"):
        assert client.post(f"{STORE}/{source}", json=body).status_code == 401
        other = new_tenant()
        response = client.post(f"{STORE}/{source}", json=body, headers=other.headers)
        assert response.status_code == 403
        response = client.post(f"{STORE}/{source}", json=body, headers=tenant.headers)
        assert response.status_code == 200, response.text
    assert count(client, tenant) == 2


def test_unknown_or_inactive_organisation(
    client: TestClient, tenant: Tenant, new_tenant: Callable[..., Tenant]
) -> None:
    stranger = {**event(tenant), "organization_id": str(uuid.uuid4())}
    response = client.post(f"{STORE}/untrusted", json={"events": [event(tenant), stranger]})
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"loc": ["body", "events", 1, "organization_id"], "msg": "No such organisation."}
    ]
    inactive = new_tenant(active=False)
    response = client.post(f"{STORE}/untrusted", json={"events": [event(inactive)]})
    assert response.status_code == 403
    assert count(client, tenant) == 0


def test_bad_events_are_listed_by_index_and_field(client: TestClient, tenant: Tenant) -> None:
    future = (datetime.now(UTC) + timedelta(hours=25)).isoformat()
    events = [
        event(tenant),
        event(tenant, event_version=0),
        event(tenant, value="NaN"),
        {k: v for k, v in event(tenant).items() if k != "vendor"},
        event(tenant, timestamp=future),
        event(tenant, properties="not-a-list"),
        event(tenant, surprise=True),
        event(tenant, organization_id="not-a-uuid"),
        event(tenant, source="trusted"),
        event(tenant, event_version="1"),
    ]
    response = client.post(f"{STORE}/untrusted", json={"events": events})
    assert response.status_code == 400
    errors = {tuple(e["loc"][:4]): e["msg"] for e in response.json()["errors"]}
    # every bad event at once (DESIGN §4), the checks against the path and the clock too
    assert set(errors) == {
        ("body", "events", 1, "event_version"),
        ("body", "events", 2, "value"),
        ("body", "events", 3, "vendor"),
        ("body", "events", 4, "timestamp"),
        ("body", "events", 5, "properties"),
        ("body", "events", 6, "surprise"),
        ("body", "events", 7, "organization_id"),
        ("body", "events", 8, "source"),
        ("body", "events", 9, "event_version"),
    }
    assert errors[("body", "events", 4, "timestamp")] == "is more than 24 hours in the future."
    assert errors[("body", "events", 8, "source")] == "must be 'untrusted' on this path."
    assert count(client, tenant) == 0


def test_malformed_bodies(client: TestClient, tenant: Tenant) -> None:
    bodies: tuple[Any, ...] = (
        {},
        {"events": []},
        {"events": {}},
        [],
        {"events": [1]},
        {"evts": []},
    )
    for body in bodies:
        response = client.post(f"{STORE}/untrusted", json=body)
        assert response.status_code == 400, body
    response = client.post(
        f"{STORE}/untrusted", content=b"{", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert client.post(f"{STORE}/elsewhere", json={"events": []}).status_code == 404


def test_limits_are_413(client: TestClient, tenant: Tenant) -> None:
    many = {"events": [event(tenant)] * 10_001}
    response = client.post(f"{STORE}/untrusted", json=many)
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"
    huge = {"events": [event(tenant, label="x" * 1000, properties=["y" * 1000] * 200)] * 60}
    response = client.post(f"{STORE}/untrusted", json=huge)
    assert response.status_code == 413
    assert count(client, tenant) == 0


def test_instants_beyond_the_utc_calendar_are_400_not_500(
    client: TestClient, tenant: Tenant
) -> None:
    for instant in ("9999-12-31T23:00:00-05:00", "0001-01-01T00:30:00+02:00"):
        response = client.post(
            f"{STORE}/untrusted", json={"events": [event(tenant), event(tenant, timestamp=instant)]}
        )
        assert response.status_code == 400, (instant, response.text)
        body = response.json()
        assert [e["loc"][:4] for e in body["errors"]] == [["body", "events", 1, "timestamp"]]
        assert "supported range" in body["errors"][0]["msg"]
    assert count(client, tenant) == 0


NUL_FIELDS: list[tuple[dict[str, Any], list[str | int]]] = [
    ({"label": "x\u0000y"}, ["label"]),
    ({"category": "\u0000"}, ["category"]),
    ({"vendor": "com.example.shop\u0000"}, ["vendor"]),
    ({"action": "a\u0000"}, ["action"]),
    ({"dim1": "\u0000"}, ["dim1"]),
    ({"dim5": "d\u0000"}, ["dim5"]),
    ({"visitor_id": "v\u0000"}, ["visitor_id"]),
    ({"properties": ["ok", "p\u0000"]}, ["properties", 1]),
    ({"partner_organization_ids": ["\u0000"]}, ["partner_organization_ids", 0]),
    ({"device_screen_height": "1\u0000"}, ["device_screen_height"]),
    ({"source": "untrusted\u0000"}, ["source"]),
]


def test_nul_characters_in_events_are_400_by_field(client: TestClient, tenant: Tenant) -> None:
    """Both validation paths (plain and model) refuse NUL; nothing of the batch is stored."""
    for fields, where in NUL_FIELDS:
        for source, headers in (("untrusted", {}), ("trusted", tenant.headers)):
            body = {"events": [event(tenant), event(tenant, **fields)]}
            response = client.post(f"{STORE}/{source}", json=body, headers=headers)
            assert response.status_code == 400, (fields, response.text)
            (error,) = response.json()["errors"]
            assert error["loc"] == ["body", "events", 1, *where], fields
            assert "NUL" in error["msg"]
            assert "\u0000" not in response.text
    assert count(client, tenant) == 0


def test_an_escaped_backslash_before_u0000_is_not_a_nul(client: TestClient, tenant: Tenant) -> None:
    body = {"events": [event(tenant, label="\\u0000")]}  # the six characters, no NUL
    response = client.post(f"{STORE}/untrusted", json=body)
    assert response.status_code == 200, response.text
    assert count(client, tenant) == 1


def test_unpaired_surrogates_in_events_are_400(client: TestClient, tenant: Tenant) -> None:
    raw = json.dumps({"events": [event(tenant, label="SURROGATE")]})
    raw = raw.replace("SURROGATE", "x\\ud800y")  # JSON text only: Python cannot encode it
    response = client.post(
        f"{STORE}/untrusted", content=raw, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400, response.text
    assert count(client, tenant) == 0


@pytest.mark.parametrize(
    ("changes", "where"),
    [
        ({"vendor": "com.example.shop\u0000"}, ["vendor"]),
        (
            {"filters": {"type": "selector", "dimension": "label", "value": "x\u0000"}},
            ["filters", "value"],
        ),
        (
            {
                "filters": {
                    "type": "and",
                    "fields": [{"type": "in", "dimension": "label", "values": ["a", "\u0000"]}],
                }
            },
            ["filters", "fields", 0, "values", 1],
        ),
        (
            {
                "filters": {
                    "type": "not",
                    "field": {"type": "like", "dimension": "label", "pattern": "\u0000"},
                }
            },
            ["filters", "field", "pattern"],
        ),
        ({"group_by": ["label\u0000"]}, ["group_by", 0]),
    ],
)
def test_nul_characters_in_fetch_are_400_by_field(
    client: TestClient, tenant: Tenant, changes: dict[str, Any], where: list[str | int]
) -> None:
    body = {
        "vendor": "com.example.shop",
        "interval": {"start": "2021-01-01T00:00:00Z", "end": "2021-12-31T00:00:00Z"},
        **changes,
    }
    response = client.post(
        f"/api/events/v2/orgs/{tenant.org_id}/fetch", json=body, headers=tenant.headers
    )
    assert response.status_code == 400, response.text
    (error,) = response.json()["errors"]
    assert error["loc"] == ["body", *where]
    assert "NUL" in error["msg"]
