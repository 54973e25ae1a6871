"""Every organisation-scoped endpoint × every way a caller can be refused.

Routes are read from the application itself, so an endpoint added later is covered (and
one added without a permission requirement fails `test_every_route_declares_a_permission`).
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

PARAM = re.compile(r"{(\w+)}")


ROUTES = routes(lambda path: "{org_id}" in path, "permissions")


KNOWN = {"org_id", "user_id"}


def _url(path: str, tenant: Tenant) -> str:
    """The route with the tenant's organisation and user (a path's user is the caller's own
    report exports) and random ids for everything else."""
    known = {"org_id": str(tenant.org_id), "user_id": str(tenant.user_id)}
    return PARAM.sub(lambda m: known.get(m.group(1), str(uuid.uuid4())), path)


def _call(client: TestClient, method: str, url: str, headers: dict[str, str]) -> Any:
    body: dict[str, Any] | None = {} if method in ("POST", "PATCH", "PUT") else None
    return client.request(method, url, json=body, headers=headers)


def test_every_route_declares_a_permission() -> None:
    assert ROUTES
    missing = [(m, p) for m, p, perms in ROUTES if not perms]
    assert missing == []


@pytest.mark.parametrize(("method", "path", "permissions"), ROUTES)
def test_refusals_in_order(
    client: TestClient,
    database: Database,
    tenant: Tenant,
    new_tenant: Callable[..., Tenant],
    method: str,
    path: str,
    permissions: tuple[str, ...],
) -> None:
    url = _url(path, tenant)
    expectations = [
        ({}, 401, "not_authenticated"),
        ({"Authorization": "Token tb_not-a-real-token"}, 401, "not_authenticated"),
        ({"Authorization": "Bearer"}, 401, "not_authenticated"),
    ]
    inactive = new_tenant(active=False)
    expectations.append((inactive.headers, 403, "subscription_inactive"))
    # inactive subscription wins over a foreign organisation in the path
    expectations.append((inactive.headers, 403, "subscription_inactive"))
    other = new_tenant()
    expectations.append((other.headers, 403, "organization_forbidden"))
    nobody = add_user(database, tenant, permissions=[])
    expectations.append((nobody.headers, 403, "permission_denied"))
    for other_permission in {"reporting", "settings"} - set(permissions):
        limited = add_user(database, tenant, permissions=[other_permission])
        expectations.append((limited.headers, 403, "permission_denied"))
    for headers, status, code in expectations:
        response = _call(client, method, url, headers)
        assert response.status_code == status, (headers, response.text)
        body = response.json()
        assert body["code"] == code
        assert isinstance(body["detail"], str) and body["detail"]


@pytest.mark.parametrize(("method", "path", "permissions"), ROUTES)
def test_allowed_caller_on_missing_resource_is_404_or_validated(
    client: TestClient, tenant: Tenant, method: str, path: str, permissions: tuple[str, ...]
) -> None:
    url = _url(path, tenant)
    response = _call(client, method, url, tenant.headers)
    if set(PARAM.findall(path)) - KNOWN:  # addresses a resource that does not exist
        assert response.status_code in (400, 404), response.text
    else:
        assert response.status_code in (200, 201, 400), response.text


BODY_METHODS = ("POST", "PATCH", "PUT")
BAD_BODIES: list[tuple[bytes, str]] = [
    (b"{not json", "application/json"),
    (b"<xml/>", "application/xml"),
    (b"a=1", "application/x-www-form-urlencoded"),
    (b"[" * 1000 + b"]" * 1000, "application/json"),
]


@pytest.mark.parametrize(
    ("method", "path", "permissions"), [r for r in ROUTES if r[0] in BODY_METHODS]
)
def test_refusals_come_before_the_body(
    client: TestClient,
    database: Database,
    tenant: Tenant,
    new_tenant: Callable[..., Tenant],
    method: str,
    path: str,
    permissions: tuple[str, ...],
) -> None:
    """Issue 9, row 6: a malformed body from a caller who may not call the route is a
    401/403, never the 400 about the body; the caller who may gets the 400 (or 415)."""
    url = _url(path, tenant)
    callers = [
        ({}, 401, "not_authenticated"),
        (new_tenant().headers, 403, "organization_forbidden"),
        (add_user(database, tenant, permissions=[]).headers, 403, "permission_denied"),
    ]
    for body, content_type in BAD_BODIES:
        for headers, status, code in callers:
            response = client.request(
                method, url, content=body, headers={**headers, "Content-Type": content_type}
            )
            assert response.status_code == status, (content_type, headers, response.text)
            assert response.json()["code"] == code
        response = client.request(
            method, url, content=body, headers={**tenant.headers, "Content-Type": content_type}
        )
        assert response.status_code in (400, 404, 415), (content_type, response.text)
        codes = ("invalid", "too_deep", "unsupported_media_type", "not_found")
        assert response.json()["code"] in codes


def test_no_route_lets_fastapi_parse_its_body() -> None:
    """FastAPI reads a declared body before any dependency: every body is read through
    kit.body instead, after the route's auth dependency."""
    routes = [r for router in ROUTERS for r in router.routes if isinstance(r, APIRoute)]
    assert [r.path for r in routes if r.body_field is not None] == []


def test_all_token_forms_are_accepted(client: TestClient, tenant: Tenant) -> None:
    url = f"{tenant.objectives}/workflows"
    for headers, params in (
        ({"Authorization": f"Token {tenant.token}"}, {}),
        ({"Authorization": f"Token token={tenant.token}"}, {}),
        ({"Authorization": f'Token token="{tenant.token}"'}, {}),
        ({"Authorization": f"Bearer {tenant.token}"}, {}),
        ({}, {"token": tenant.token}),
    ):
        response = client.get(url, headers=headers, params=params)
        assert response.status_code == 200, (headers, params)


def test_unknown_scheme_and_tampered_token_are_401(client: TestClient, tenant: Tenant) -> None:
    url = f"{tenant.objectives}/workflows"
    for value in (f"Basic {tenant.token}", f"Token {tenant.token}x", "Token ", tenant.token):
        response = client.get(url, headers={"Authorization": value})
        assert response.status_code == 401, value


def test_wrong_org_in_path_is_403_even_when_malformed(client: TestClient, tenant: Tenant) -> None:
    response = client.get("/api/objectives/v1/orgs/nonsense/workflows", headers=tenant.headers)
    assert response.status_code == 403
    assert response.json()["code"] == "organization_forbidden"
