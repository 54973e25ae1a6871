"""Every v4 route × every way a caller can be refused, and every id of another team.

Routes are read from the application, so a v4 route added later is covered (and one that
declares no access rule fails `test_every_v4_route_declares_who_may_call_it`).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from tallybook.app import ROUTERS
from tallybook.kit.db import Database
from tests.fixtures.routes import routes
from tests.fixtures.tenants import Tenant, add_user
from tests.saferme.factories import (
    V4,
    created,
    image_bytes,
    make_report,
    make_setup,
    upload,
    v4_headers,
)

PARAM = re.compile(r"{(\w+)}")


ROUTES = routes(lambda path: path.startswith(V4), "v4_permissions")
EXPECTED_ACCESS = {
    ("POST", "/api/v4/channels"): ("settings",),
    ("PATCH", "/api/v4/channels/{channel_id}"): ("settings",),
    ("DELETE", "/api/v4/channels/{channel_id}"): ("settings",),
    ("POST", "/api/v4/forms"): ("settings",),
    ("POST", "/api/v4/report_states"): ("settings",),
    ("POST", "/api/v4/notifications"): ("settings",),
    **{
        ("GET", f"/api/v4/analytics/{name}"): ("reporting",)
        for name in (
            "reports_images",
            "reports_over_time",
            "reports_per_field_selection",
            "reports_per_state",
            "reports_per_user",
            "reports_per_day_hour",
            "reports_per_week_day",
            "reports_read",
            "user_awareness",
        )
    },
}
"""Routes that need a permission; every other v4 route is open to any user of the team."""


def _url(path: str, ids: dict[str, Any] | None = None) -> str:
    ids = ids or {}
    return PARAM.sub(lambda m: str(ids.get(m.group(1), 2_000_000_000)), path)


def _call(client: TestClient, method: str, url: str, headers: dict[str, str]) -> Any:
    body: dict[str, Any] | None = {} if method in ("POST", "PATCH", "PUT") else None
    return client.request(method, url, json=body, headers=headers)


def test_every_v4_route_declares_who_may_call_it() -> None:
    assert len(ROUTES) >= 20
    assert [(m, p) for m, p, access in ROUTES if access is None] == []
    needing = {(m, p): access for m, p, access in ROUTES if access}
    assert needing == EXPECTED_ACCESS


@pytest.mark.parametrize(("method", "path", "access"), ROUTES)
def test_refusals_in_order(
    client: TestClient,
    database: Database,
    tenant: Tenant,
    new_tenant: Callable[..., Tenant],
    method: str,
    path: str,
    access: tuple[str, ...],
) -> None:
    url = _url(path)
    inactive = new_tenant(active=False)
    other = new_tenant()
    expectations: list[tuple[dict[str, str], int, str]] = [
        ({}, 401, "not_authenticated"),
        ({"Authorization": "Token token=tb_not-a-real-token"}, 401, "not_authenticated"),
        (v4_headers(inactive), 403, "subscription_inactive"),
        (v4_headers(inactive, **{"X-TeamId": "1"}), 403, "subscription_inactive"),
        (v4_headers(tenant, **{"X-TeamId": str(other.org_id)}), 403, "organization_forbidden"),
        (v4_headers(tenant, **{"X-TeamId": "not-a-team"}), 403, "organization_forbidden"),
    ]
    if access:
        for permissions in ([], *([p] for p in {"reporting", "settings"} - set(access))):
            limited = add_user(database, tenant, permissions=permissions)
            expectations.append((v4_headers(limited), 403, "permission_denied"))
    for headers, status, code in expectations:
        response = _call(client, method, url, headers)
        assert response.status_code == status, (headers, response.text)
        body = response.json()
        assert body["code"] == code
        assert body["error"] == body["detail"] and body["detail"]


@pytest.mark.parametrize(("method", "path", "access"), ROUTES)
def test_an_allowed_caller_gets_404_or_400_never_a_crash(
    client: TestClient,
    database: Database,
    tenant: Tenant,
    method: str,
    path: str,
    access: tuple[str, ...],
) -> None:
    caller = tenant if access else add_user(database, tenant, permissions=[])
    response = _call(client, method, _url(path), v4_headers(caller))
    if "{" in path:
        assert response.status_code in (400, 404), response.text
    else:
        assert response.status_code in (200, 400, 415), response.text
    if response.status_code >= 400:
        assert response.json()["error"] == response.json()["detail"]


BAD_BODIES: list[tuple[bytes, str]] = [
    (b"{not json", "application/json"),
    (b"<xml/>", "application/xml"),
    (b"[" * 1000 + b"]" * 1000, "application/json"),
]


@pytest.mark.parametrize(
    ("method", "path", "access"), [r for r in ROUTES if r[0] in ("POST", "PATCH")]
)
def test_refusals_come_before_the_body(
    client: TestClient,
    database: Database,
    tenant: Tenant,
    new_tenant: Callable[..., Tenant],
    method: str,
    path: str,
    access: tuple[str, ...],
) -> None:
    url = _url(path)
    callers = [
        ({}, 401),
        (v4_headers(tenant, **{"X-TeamId": str(new_tenant().org_id)}), 403),
    ]
    if access:
        callers.append((v4_headers(add_user(database, tenant, permissions=[])), 403))
    for body, content_type in BAD_BODIES:
        for headers, status in callers:
            response = client.request(
                method, url, content=body, headers={**headers, "Content-Type": content_type}
            )
            assert response.status_code == status, (content_type, headers, response.text)


def test_no_v4_route_lets_fastapi_parse_its_body() -> None:
    routes = [r for router in ROUTERS for r in router.routes if isinstance(r, APIRoute)]
    assert [r.path for r in routes if r.path.startswith(V4) and r.body_field is not None] == []


@pytest.fixture
def theirs(client: TestClient, new_tenant: Callable[..., Tenant]) -> dict[str, Any]:
    """Real ids of every kind, all another team's."""
    other = new_tenant()
    setup = make_setup(client, other)
    report = make_report(client, other, setup)
    photo = created(upload(client, other, image_bytes((16, 16))))
    alert = created(
        client.post(
            f"{V4}/notifications",
            headers=v4_headers(other),
            json={"notification": {"user_id": other.user_number, "report_id": report["id"]}},
        )
    )
    return {
        "channel_id": setup.channel_id,
        "form_id": setup.form.id,
        "state_id": setup.states[0]["id"],
        "report_id": report["id"],
        "attachment_id": photo["id"],
        "style": "thumb",
        "alert_id": alert["id"],
    }


def test_another_teams_ids_are_404_on_every_route(
    client: TestClient, tenant: Tenant, theirs: dict[str, Any]
) -> None:
    with_ids = [(m, p) for m, p, _ in ROUTES if "{" in p]
    assert with_ids
    bodies = {
        "PATCH": {
            "/api/v4/channels/{channel_id}": {"channel": {"name": "Mine now"}},
            "/api/v4/reports/{report_id}": {"report": {"address": "Mine now"}},
            "/api/v4/notifications/{alert_id}": {"notification": {"read": True}},
        }
    }
    for method, path in with_ids:
        body = bodies.get(method, {}).get(path)
        response = client.request(method, _url(path, theirs), json=body, headers=v4_headers(tenant))
        assert response.status_code == 404, (method, path, response.text)
        assert response.json()["code"] == "not_found"


def test_every_token_form_and_the_team_header_are_accepted(
    client: TestClient, tenant: Tenant
) -> None:
    url = f"{V4}/channels"
    team = client.get(url, headers=v4_headers(tenant))
    assert team.status_code == 200
    form = created(
        client.post(f"{V4}/forms", headers=v4_headers(tenant), json={"form": {"name": "F"}})
    )
    for headers, params in (
        ({"Authorization": f"Token token={tenant.token}"}, {}),
        ({"Authorization": f'Token token="{tenant.token}"'}, {}),
        ({"Authorization": f"Token {tenant.token}"}, {}),
        ({"Authorization": f"Bearer {tenant.token}"}, {}),
        ({}, {"token": tenant.token}),
        (v4_headers(tenant, **{"X-TeamId": str(form["team_id"])}), {}),
        (v4_headers(tenant, **{"X-TeamId": str(tenant.org_id).upper()}), {}),
        (v4_headers(tenant, **{"X-InstallationId": str(uuid.uuid4())}), {}),
    ):
        response = client.get(url, headers=headers, params=params)
        assert response.status_code == 200, (headers, response.text)


def test_unknown_v4_paths_carry_the_error_key_and_others_do_not(
    client: TestClient, tenant: Tenant
) -> None:
    v4 = client.get(f"{V4}/nothing-here", headers=v4_headers(tenant))
    assert v4.status_code == 404 and v4.json()["error"] == v4.json()["detail"]
    v5 = client.get(f"{tenant.v5}/rooms/nothing", headers=tenant.headers)
    assert v5.status_code == 404 and "error" not in v5.json()
