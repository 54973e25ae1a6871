"""Alerts (SaferMe's notifications): made with the settings permission, seen, marked and
deleted only by the user alerted."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tallybook.kit.db import Database
from tests.fixtures.tenants import Tenant, add_user
from tests.saferme.factories import V4, Setup, created, make_report, make_setup, v4_headers


@pytest.fixture
def setup(client: TestClient, tenant: Tenant) -> Setup:
    return make_setup(client, tenant)


def _alert(client: TestClient, tenant: Tenant, **fields: Any) -> Any:
    response = client.post(
        f"{V4}/notifications", headers=v4_headers(tenant), json={"notification": fields}
    )
    return created(response)


def test_alerts_are_the_alerted_users_own(
    client: TestClient, database: Database, tenant: Tenant, setup: Setup
) -> None:
    reader = add_user(database, tenant, permissions=[])
    report = make_report(client, tenant, setup, created_at="2024-05-01T00:00:00Z")
    alert = _alert(
        client,
        tenant,
        user_id=reader.user_number,
        report_id=report["id"],
        created_at="2024-05-02T10:00:00Z",
    )
    assert alert == {
        "id": alert["id"],
        "archived_at": None,
        "archived": False,
        "created_at": "2024-05-02T10:00:00.000Z",
        "read": False,
        "report_id": report["id"],
        "user_id": reader.user_number,
    }
    mine = _alert(client, tenant, user_id=tenant.user_number, report_id=report["id"])
    url = f"{V4}/notifications/{alert['id']}"
    assert client.get(url, headers=v4_headers(reader)).json() == alert
    assert client.get(url, headers=v4_headers(tenant)).status_code == 404  # not the author's
    listed = client.get(f"{V4}/notifications", headers=v4_headers(reader))
    assert listed.json() == [alert] and listed.headers["Content-Range"] == "notifications 0-0/1"
    assert [
        a["id"] for a in client.get(f"{V4}/notifications", headers=v4_headers(tenant)).json()
    ] == [mine["id"]]

    # The user alerted marks it read (no permission needed); nobody else can.
    change = {"notification": {"read": True}}
    assert client.patch(url, headers=v4_headers(tenant), json=change).status_code == 404
    assert client.patch(url, headers=v4_headers(reader), json=change).status_code == 204
    assert client.get(url, headers=v4_headers(reader)).json()["read"] is True
    archive = {"notification": {"archived": True}}
    assert client.patch(url, headers=v4_headers(reader), json=archive).status_code == 204
    shown = client.get(url, headers=v4_headers(reader)).json()
    assert shown["archived"] is True and shown["archived_at"].endswith("Z")
    for bad in ({"read": None}, {"read": "yes"}, {"user_id": 1}, {"colour": "red"}):
        response = client.patch(url, headers=v4_headers(reader), json={"notification": bad})
        assert response.status_code == 400, bad
    assert client.delete(url, headers=v4_headers(tenant)).status_code == 404
    assert client.delete(url, headers=v4_headers(reader)).status_code == 204
    assert client.get(url, headers=v4_headers(reader)).status_code == 404


def test_filters_and_order(client: TestClient, tenant: Tenant, setup: Setup) -> None:
    report = make_report(client, tenant, setup, created_at="2024-01-01T00:00:00Z")
    made = [
        _alert(
            client,
            tenant,
            user_id=tenant.user_number,
            report_id=report["id"],
            created_at=f"2024-01-0{day}T00:00:00Z",
            read=day == 3,
        )
        for day in (2, 3, 4)
    ]
    headers = v4_headers(tenant)
    url = f"{V4}/notifications"
    archive = {"notification": {"archived": True}}
    assert client.patch(f"{url}/{made[0]['id']}", headers=headers, json=archive).status_code == 204

    def ids(query: str) -> list[int]:
        response = client.get(f"{url}?{query}", headers=headers)
        assert response.status_code == 200, response.text
        return [a["id"] for a in response.json()]

    first, second, third = (a["id"] for a in made)
    assert ids("") == [third, second, first]  # newest first
    assert ids("archived=false") == [third, second]
    assert ids("archived=true") == [first]
    assert ids("orderby=read+asc,created_at+asc") == [first, third, second]
    assert ids("orderby=archived_at+desc") == [third, second, first]  # not archived: null, first
    assert ids("orderby=archived_at+asc") == [first, third, second]
    assert ids("orderby=report.updated_at+desc")[0] == third
    for bad in ("archived=maybe", "orderby=title+asc", "orderby=read", "orderby=read+up"):
        response = client.get(f"{url}?{bad}", headers=headers)
        assert response.status_code == 400, bad


def test_making_alerts_needs_settings_and_names_of_the_team(
    client: TestClient,
    database: Database,
    tenant: Tenant,
    new_tenant: Callable[..., Tenant],
    setup: Setup,
) -> None:
    report = make_report(client, tenant, setup, created_at="2024-01-01T00:00:00Z")
    plain = add_user(database, tenant, permissions=["reporting"])
    body = {"notification": {"user_id": plain.user_number, "report_id": report["id"]}}
    refused = client.post(f"{V4}/notifications", headers=v4_headers(plain), json=body)
    assert refused.status_code == 403 and refused.json()["code"] == "permission_denied"

    other = new_tenant()
    their_report = make_report(client, other, make_setup(client, other))
    for fields, where in (
        ({"user_id": other.user_number, "report_id": report["id"]}, "user_id"),
        ({"user_id": plain.user_number, "report_id": their_report["id"]}, "report_id"),
        (
            {
                "user_id": plain.user_number,
                "report_id": report["id"],
                "created_at": "2023-12-31T00:00:00Z",
            },
            "created_at",
        ),
        ({"user_id": plain.user_number}, "report_id"),
        ({"user_id": plain.user_number, "report_id": report["id"], "archived": True}, "archived"),
    ):
        response = client.post(
            f"{V4}/notifications", headers=v4_headers(tenant), json={"notification": fields}
        )
        assert response.status_code == 400, (fields, response.text)
        assert response.json()["errors"][0]["loc"] == ["body", "notification", where]
    assert client.get(f"{V4}/notifications", headers=v4_headers(plain)).json() == []
