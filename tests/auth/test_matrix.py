"""Every organisation-scoped endpoint × every way a caller can be refused.

Routes are read from the application itself, so an endpoint added later is covered (and
one added without a permission requirement fails `test_every_route_declares_a_permission`).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from tallybook.app import ROUTERS
from tallybook.kit.db import Database
from tests.fixtures.tenants import Tenant, add_user

PARAM = re.compile(r"{(\w+)}")


def _required_permissions(route: APIRoute) -> tuple[str, ...] | None:
    stack = list(route.dependant.dependencies)
    while stack:
        dep = stack.pop()
        found = getattr(dep.call, "permissions", None)
        if found is not None:
            return tuple(found)
        stack.extend(dep.dependencies)
    return None


def _org_routes() -> Iterator[tuple[str, str, tuple[str, ...] | None]]:
    for route in (r for router in ROUTERS for r in router.routes):
        if isinstance(route, APIRoute) and "{org_id}" in route.path:
            for method in sorted(route.methods or ()):
                yield method, route.path, _required_permissions(route)


ROUTES = list(_org_routes())


def _url(path: str, org_id: uuid.UUID) -> str:
    return PARAM.sub(lambda m: str(org_id) if m.group(1) == "org_id" else str(uuid.uuid4()), path)


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
    url = _url(path, tenant.org_id)
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
    url = _url(path, tenant.org_id)
    response = _call(client, method, url, tenant.headers)
    if path.count("{") > 1:  # addresses a resource that does not exist
        assert response.status_code in (400, 404), response.text
    else:
        assert response.status_code in (200, 201, 400), response.text


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
