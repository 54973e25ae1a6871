"""Who may use whose report exports (DESIGN §3): the settings permission; the path's user
is the caller, unless the caller is a manager of the organisation. Another user is 403 for
anyone else; for a manager, a user who is not in the organisation is 404."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tallybook.kit.db import Database
from tests.exports.factories import ExportApi, logs
from tests.fixtures.tenants import Tenant, add_user, make_tenant


def _manager_of(database: Database, tenant: Tenant) -> Tenant:
    """A manager (settings permission) in the tenant's organisation."""
    from tallybook.auth.service import create_token
    from tallybook.organizations.service import create_user

    with database.unit_of_work() as session:
        user = create_user(
            session,
            tenant.org_id,
            f"manager-{uuid.uuid4().hex[:8]}@example.com",
            permissions=["settings"],
            is_manager=True,
        )
        token = create_token(session, user.id)
        return Tenant(tenant.org_id, user.id, user.number, token)


def _calls(api: ExportApi, user_id: Any, payload: dict[str, Any]) -> list[Any]:
    """POST, list and get (of a made-up export) on ``user_id``'s collection."""
    url = api.url(user_id)
    headers = api.tenant.headers
    return [
        api.client.post(url, json=payload, headers=headers),
        api.client.get(url, headers=headers),
        api.client.get(f"{url}/{uuid.uuid4()}", headers=headers),
    ]


@pytest.fixture
def colleague(database: Database, tenant: Tenant) -> Tenant:
    return add_user(database, tenant, permissions=["settings"])


def test_own_exports_need_the_settings_permission(
    client: TestClient, database: Database, tenant: Tenant, room_id: str
) -> None:
    reporter = add_user(database, tenant, permissions=["reporting"])
    for response in _calls(ExportApi(client, reporter), reporter.user_id, logs(room_id)):
        assert response.status_code == 403, response.text
        assert response.json()["code"] == "permission_denied"
        assert "'settings'" in response.json()["detail"]


@pytest.mark.parametrize("who", ["colleague", "nobody", "malformed"])
def test_a_user_who_is_no_manager_cannot_reach_another_users_exports(
    client: TestClient, tenant: Tenant, colleague: Tenant, room_id: str, who: str
) -> None:
    targets: dict[str, uuid.UUID | str] = {
        "colleague": colleague.user_id,
        "nobody": uuid.uuid4(),
        "malformed": "me",
    }
    target = targets[who]
    for response in _calls(ExportApi(client, tenant), target, logs(room_id)):
        assert response.status_code == 403, response.text
        assert response.json()["code"] == "permission_denied"
    # A body the caller may not send is not even read: 403, not 400.
    response = client.post(
        ExportApi(client, tenant).url(target), content=b"{", headers=tenant.headers
    )
    assert response.status_code == 403


def test_a_manager_uses_anyones_exports_in_the_organisation(
    client: TestClient, database: Database, tenant: Tenant, colleague: Tenant, room_id: str
) -> None:
    manager = ExportApi(client, _manager_of(database, tenant))
    made = manager.start(logs(room_id), user_id=colleague.user_id)
    assert made["created_by_user_id"] == str(manager.tenant.user_id)

    own = ExportApi(client, colleague)
    assert [e["id"] for e in own.page()["results"]] == [made["id"]]  # in the colleague's list
    assert own.get(made["id"]) == made
    assert manager.page()["results"] == []  # not in the manager's own
    assert manager.get(made["id"], user_id=colleague.user_id) == made
    assert manager.get(made["id"], status=404)["code"] == "not_found"  # not the manager's
    assert ExportApi(client, tenant).get(made["id"], user_id=colleague.user_id, status=403)


@pytest.mark.parametrize("who", ["other organisation", "nobody", "malformed"])
def test_for_a_manager_a_user_outside_the_organisation_is_404(
    client: TestClient,
    database: Database,
    tenant: Tenant,
    new_tenant: Callable[..., Tenant],
    room_id: str,
    who: str,
) -> None:
    target = {
        "other organisation": new_tenant().user_id,
        "nobody": uuid.uuid4(),
        "malformed": "not-a-uuid",
    }[who]
    manager = ExportApi(client, _manager_of(database, tenant))
    for response in _calls(manager, target, logs(room_id)):
        assert response.status_code == 404, response.text
        assert response.json()["code"] == "not_found"


def test_the_documented_refusals_in_order(
    client: TestClient, database: Database, tenant: Tenant, room_id: str
) -> None:
    api = ExportApi(client, tenant)
    url = api.url()
    assert client.get(url).status_code == 401
    assert client.get(url, headers={"Authorization": "Token nope"}).status_code == 401
    inactive = make_tenant(database, active=False)
    response = client.get(url, headers=inactive.headers)
    assert (response.status_code, response.json()["code"]) == (403, "subscription_inactive")
    stranger = make_tenant(database, manager=True)
    response = client.get(url, headers=stranger.headers)
    assert (response.status_code, response.json()["code"]) == (403, "organization_forbidden")


def test_another_organisations_export_is_404(
    client: TestClient, tenant: Tenant, new_tenant: Callable[..., Tenant]
) -> None:
    other = ExportApi(client, new_tenant())
    theirs = other.start(logs(other.room()))
    mine = ExportApi(client, tenant)
    assert mine.get(theirs["id"], status=404)["code"] == "not_found"
