from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from tallybook.kit.db import Database
from tests.fixtures.tenants import Tenant
from tests.targets.factories import create_target

TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def create(client: TestClient, tenant: Tenant, **body: object) -> dict[str, Any]:
    body = {"name": "Double revenue", "description": "Yearly objective", **body}
    response = client.post(f"{tenant.objectives}/workflows", json=body, headers=tenant.headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_create_returns_the_object(client: TestClient, tenant: Tenant) -> None:
    wf = create(client, tenant)
    assert wf["name"] == "Double revenue"
    assert wf["description"] == "Yearly objective"
    assert wf["organization_id"] == str(tenant.org_id)
    assert wf["created_by_user"] == str(tenant.user_id)
    assert wf["updated_by_user"] == str(tenant.user_id)
    assert wf["type"] == "user_generated"
    assert TS.match(wf["created_at"]) and TS.match(wf["modified_at"])
    uuid.UUID(wf["id"])


def test_list_and_get(client: TestClient, tenant: Tenant) -> None:
    first = create(client, tenant, name="one")
    second = create(client, tenant, name="two")
    listed = client.get(f"{tenant.objectives}/workflows", headers=tenant.headers).json()
    assert [w["id"] for w in listed] == [first["id"], second["id"]]
    got = client.get(f"{tenant.objectives}/workflows/{second['id']}/", headers=tenant.headers)
    assert got.status_code == 200
    assert got.json() == second


def test_patch_is_partial(
    client: TestClient, tenant: Tenant, new_tenant: Callable[..., Tenant]
) -> None:
    wf = create(client, tenant)
    url = f"{tenant.objectives}/workflows/{wf['id']}"
    response = client.patch(url, json={"description": "changed"}, headers=tenant.headers)
    assert response.status_code == 200
    assert response.json()["name"] == "Double revenue"
    assert response.json()["description"] == "changed"
    response = client.patch(url, json={"description": None}, headers=tenant.headers)
    assert response.json()["description"] is None


def test_patch_records_the_updating_user(
    client: TestClient, tenant: Tenant, database: Database
) -> None:
    from tests.fixtures.tenants import add_user

    wf = create(client, tenant)
    other = add_user(database, tenant, permissions=["reporting"])
    url = f"{tenant.objectives}/workflows/{wf['id']}"
    body = client.patch(url, json={"name": "renamed"}, headers=other.headers).json()
    assert body["updated_by_user"] == str(other.user_id)
    assert body["created_by_user"] == str(tenant.user_id)


def test_invalid_payloads_are_400_and_store_nothing(client: TestClient, tenant: Tenant) -> None:
    url = f"{tenant.objectives}/workflows"
    bad = [
        {},
        {"name": ""},
        {"name": "x" * 256},
        {"name": None},
        {"name": 5},
        {"name": "ok", "unknown": 1},
        {"name": "ok", "id": str(uuid.uuid4())},
        {"name": "ok", "created_at": "2021-01-01T00:00:00Z"},
        {"name": "ok", "organization_id": str(uuid.uuid4())},
        {"name": "ok", "created_by_user": str(uuid.uuid4())},
        {"name": "ok", "type": "nonsense"},
        {"name": "nul\x00byte"},
        {"name": "ok", "description": "nul\x00byte"},
        [],
        "text",
    ]
    for body in bad:
        response = client.post(url, json=body, headers=tenant.headers)
        assert response.status_code == 400, (body, response.text)
        payload = response.json()
        assert payload["code"] == "invalid"
        assert payload["detail"]
        assert payload["errors"] and all("loc" in e and "msg" in e for e in payload["errors"])
    response = client.post(
        url, content=b"{not json", headers={**tenant.headers, "Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["msg"] == "The body is not valid JSON."
    response = client.post(
        url,
        content=b'{"name": "lone \\ud800 surrogate"}',
        headers={**tenant.headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["loc"] == ["body", "name"]
    assert client.get(url, headers=tenant.headers).json() == []


def test_read_only_and_unknown_fields_are_named(client: TestClient, tenant: Tenant) -> None:
    response = client.post(
        f"{tenant.objectives}/workflows",
        json={"name": "ok", "id": str(uuid.uuid4()), "colour": "red"},
        headers=tenant.headers,
    )
    errors = {tuple(e["loc"]): e["msg"] for e in response.json()["errors"]}
    assert errors[("body", "id")] == "This field is read-only."
    assert errors[("body", "colour")] == "Unknown field."


def test_patch_rejects_null_name_and_keeps_the_row(client: TestClient, tenant: Tenant) -> None:
    wf = create(client, tenant)
    url = f"{tenant.objectives}/workflows/{wf['id']}"
    response = client.patch(url, json={"name": None, "description": "x"}, headers=tenant.headers)
    assert response.status_code == 400
    assert client.get(url, headers=tenant.headers).json()["description"] == "Yearly objective"


def test_other_organisation_sees_404(
    client: TestClient, tenant: Tenant, new_tenant: Callable[..., Tenant]
) -> None:
    wf = create(client, tenant)
    other = new_tenant()
    for method in ("get", "patch", "delete"):
        kwargs = {"json": {"name": "x"}} if method == "patch" else {}
        url = f"{other.objectives}/workflows/{wf['id']}"
        response = getattr(client, method)(url, headers=other.headers, **kwargs)
        assert response.status_code == 404, method
        assert response.json()["code"] == "not_found"
    assert client.get(f"{other.objectives}/workflows", headers=other.headers).json() == []
    still = client.get(f"{tenant.objectives}/workflows/{wf['id']}", headers=tenant.headers)
    assert still.status_code == 200


def test_malformed_id_is_404(client: TestClient, tenant: Tenant) -> None:
    response = client.get(f"{tenant.objectives}/workflows/not-a-uuid", headers=tenant.headers)
    assert response.status_code == 404


def test_delete_cascades_to_targets(client: TestClient, tenant: Tenant) -> None:
    wf = create(client, tenant)
    target = create_target(client, tenant, wf["id"])
    url = f"{tenant.objectives}/workflows/{wf['id']}"
    assert client.delete(url, headers=tenant.headers).status_code == 204
    assert client.get(url, headers=tenant.headers).status_code == 404
    gone = client.get(f"{url}/targets/{target['id']}", headers=tenant.headers)
    assert gone.status_code == 404
    assert client.delete(url, headers=tenant.headers).status_code == 404
