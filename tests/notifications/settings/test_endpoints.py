"""Rules shared by the three kinds of notification settings, the aggregated view, moving a
setting between targets, tenancy and cascades."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tallybook.kit.db import Database
from tallybook.notifications.models import NotificationSetting
from tests.fixtures.tenants import Tenant, add_user
from tests.notifications.factories import TargetPath, assert_invalid, create, make_target

KINDS = ("bar", "slack", "email")
Payloads = Callable[[str], dict[str, Any]]

COMMON_FIELDS = [
    "id",
    "target",
    "organization_id",
    "last_notification_sent",
    "name",
    "is_notification_active",
]
KIND_FIELDS = {
    "bar": ["channel_id"],
    "slack": ["token", "channel", "user", "icon_url", "incoming_webhook_url"],
    "email": ["email", "is_bundleable"],
}


def setting_exists(database: Database, setting_id: str) -> bool:
    with database.unit_of_work() as session:
        stmt = select(NotificationSetting.id).where(NotificationSetting.id == uuid.UUID(setting_id))
        return session.scalars(stmt).first() is not None


@pytest.mark.parametrize("kind", KINDS)
def test_create_returns_the_seed_fields_in_order(
    client: TestClient, target: TargetPath, payloads: Payloads, kind: str
) -> None:
    setting = create(client, target, kind, payloads(kind))
    assert list(setting) == [*COMMON_FIELDS, *KIND_FIELDS[kind], "last_error"]
    uuid.UUID(setting["id"])
    assert setting["target"] == target.target_id
    assert setting["organization_id"] == str(target.tenant.org_id)
    assert setting["last_notification_sent"] is None
    assert setting["last_error"] is None
    assert setting["name"] == ""
    assert setting["is_notification_active"] is True


@pytest.mark.parametrize("kind", KINDS)
def test_get_list_patch_delete(
    client: TestClient, target: TargetPath, payloads: Payloads, kind: str
) -> None:
    first = create(client, target, kind, {**payloads(kind), "name": "First"})
    second = create(client, target, kind, {**payloads(kind), "name": "Second"})
    listed = client.get(target.kind(kind), headers=target.headers)
    assert listed.status_code == 200
    assert listed.json() == [first, second]

    got = client.get(target.kind(kind, first["id"]), headers=target.headers)
    assert got.status_code == 200
    assert got.json() == first

    patched = client.patch(
        target.kind(kind, first["id"]),
        json={"is_notification_active": False},
        headers=target.headers,
    )
    assert patched.status_code == 200
    assert patched.json() == {**first, "is_notification_active": False}
    renamed = client.patch(
        target.kind(kind, first["id"]), json={"name": "Renamed"}, headers=target.headers
    )
    assert renamed.json() == {**first, "is_notification_active": False, "name": "Renamed"}
    unchanged = client.patch(target.kind(kind, first["id"]), json={}, headers=target.headers)
    assert unchanged.status_code == 200
    assert unchanged.json() == renamed.json()

    deleted = client.delete(target.kind(kind, first["id"]), headers=target.headers)
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert client.get(target.kind(kind, first["id"]), headers=target.headers).status_code == 404
    assert client.delete(target.kind(kind, first["id"]), headers=target.headers).status_code == 404
    assert client.get(target.kind(kind), headers=target.headers).json() == [second]


def test_aggregated_view_groups_by_kind_in_creation_order(
    client: TestClient, target: TargetPath, payloads: Payloads
) -> None:
    empty = client.get(target.notifications, headers=target.headers)
    assert empty.status_code == 200
    assert empty.json() == {"bar": [], "slack": [], "email": []}
    made: dict[str, list[Any]] = {kind: [] for kind in KINDS}
    for index, kind in enumerate(["email", "bar", "slack", "email", "bar", "email"]):
        made[kind].append(create(client, target, kind, {**payloads(kind), "name": f"#{index}"}))
    other = make_target(client, target.tenant, target.workflow_id)
    create(client, other, "email", payloads("email"))

    view = client.get(target.notifications, headers=target.headers)
    assert view.status_code == 200
    assert list(view.json()) == ["bar", "slack", "email"]
    assert view.json() == made
    for kind in KINDS:
        assert client.get(target.kind(kind), headers=target.headers).json() == made[kind]
    assert client.get(f"{target.notifications}/", headers=target.headers).json() == made


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("id", "6c1c5f3e-6a55-4d3f-9d36-0c3c2d5c1a11"),
        ("organization_id", "6c1c5f3e-6a55-4d3f-9d36-0c3c2d5c1a11"),
        ("last_notification_sent", "2021-04-01T10:10:57.242Z"),
        ("last_error", None),
    ],
)
def test_read_only_fields_are_refused(
    client: TestClient, target: TargetPath, payloads: Payloads, kind: str, field: str, value: Any
) -> None:
    response = client.post(
        target.kind(kind), json={**payloads(kind), field: value}, headers=target.headers
    )
    assert_invalid(response, ["body", field])
    assert client.get(target.kind(kind), headers=target.headers).json() == []
    setting = create(client, target, kind, payloads(kind))
    response = client.patch(
        target.kind(kind, setting["id"]), json={field: value}, headers=target.headers
    )
    body = assert_invalid(response, ["body", field])
    assert body["errors"][0]["msg"] == "This field is read-only."


@pytest.mark.parametrize("kind", KINDS)
def test_unknown_fields_are_refused(
    client: TestClient, target: TargetPath, payloads: Payloads, kind: str
) -> None:
    response = client.post(
        target.kind(kind), json={**payloads(kind), "kind": kind}, headers=target.headers
    )
    assert_invalid(response, ["body", "kind"])
    setting = create(client, target, kind, payloads(kind))
    response = client.patch(
        target.kind(kind, setting["id"]), json={"created_at": None}, headers=target.headers
    )
    assert_invalid(response, ["body", "created_at"])


@pytest.mark.parametrize("kind", KINDS)
def test_name_and_active_flag_validation(
    client: TestClient, target: TargetPath, payloads: Payloads, kind: str
) -> None:
    url = target.kind(kind)
    long_name = {**payloads(kind), "name": "x" * 256}
    assert_invalid(client.post(url, json=long_name, headers=target.headers), ["body", "name"])
    ok = create(client, target, kind, {**payloads(kind), "name": "x" * 255})
    assert ok["name"] == "x" * 255
    for flag in ("true", 1, None):
        bad = {**payloads(kind), "is_notification_active": flag}
        response = client.post(url, json=bad, headers=target.headers)
        assert_invalid(response, ["body", "is_notification_active"])
    one = target.kind(kind, ok["id"])
    for body, loc in [
        ({"name": None}, "name"),
        ({"name": "y" * 256}, "name"),
        ({"is_notification_active": None}, "is_notification_active"),
        ({"is_notification_active": "false"}, "is_notification_active"),
    ]:
        assert_invalid(client.patch(one, json=body, headers=target.headers), ["body", loc])
    assert client.get(one, headers=target.headers).json() == ok


@pytest.mark.parametrize("kind", KINDS)
def test_a_setting_is_only_found_under_its_own_kind_and_target(
    client: TestClient, target: TargetPath, payloads: Payloads, kind: str
) -> None:
    setting = create(client, target, kind, payloads(kind))
    sibling = make_target(client, target.tenant, target.workflow_id)
    other_kind = next(k for k in KINDS if k != kind)
    wrong_paths = [
        target.kind(other_kind, setting["id"]),
        sibling.kind(kind, setting["id"]),
        target.kind(kind, str(uuid.uuid4())),
        target.kind(kind, "not-a-uuid"),
    ]
    for url in wrong_paths:
        assert client.get(url, headers=target.headers).status_code == 404, url
        response = client.patch(url, json={"name": "x"}, headers=target.headers)
        assert response.status_code == 404, url
        assert response.json()["code"] == "not_found"
        assert client.delete(url, headers=target.headers).status_code == 404, url
    assert client.get(target.kind(kind, setting["id"]), headers=target.headers).json() == setting
    assert client.get(sibling.notifications, headers=target.headers).json() == {
        "bar": [],
        "slack": [],
        "email": [],
    }


@pytest.mark.parametrize("kind", KINDS)
def test_the_target_is_looked_up_in_the_path_workflow(
    client: TestClient, target: TargetPath, payloads: Payloads, kind: str
) -> None:
    setting = create(client, target, kind, payloads(kind))
    other_workflow = make_target(client, target.tenant).workflow_id
    wrong = [
        TargetPath(target.tenant, other_workflow, target.target_id),
        TargetPath(target.tenant, target.workflow_id, str(uuid.uuid4())),
        TargetPath(target.tenant, "nope", target.target_id),
        TargetPath(target.tenant, target.workflow_id, "nope"),
    ]
    for path in wrong:
        assert client.get(path.notifications, headers=target.headers).status_code == 404
        assert client.get(path.kind(kind), headers=target.headers).status_code == 404
        assert client.get(path.kind(kind, setting["id"]), headers=target.headers).status_code == 404
        response = client.post(path.kind(kind), json=payloads(kind), headers=target.headers)
        assert response.status_code == 404
    assert client.get(target.kind(kind), headers=target.headers).json() == [setting]


@pytest.mark.parametrize("kind", KINDS)
def test_another_organisation_sees_nothing(
    client: TestClient,
    database: Database,
    target: TargetPath,
    payloads: Payloads,
    new_tenant: Callable[..., Tenant],
    kind: str,
) -> None:
    setting = create(client, target, kind, payloads(kind))
    stranger = new_tenant()
    own = make_target(client, stranger)
    # Their own organisation in the path, our workflow, target and setting: not found.
    borrowed = TargetPath(stranger, target.workflow_id, target.target_id)
    assert client.get(borrowed.notifications, headers=stranger.headers).status_code == 404
    assert client.get(borrowed.kind(kind, setting["id"]), headers=stranger.headers).status_code == (
        404
    )
    # Our setting through their own target: not found either, and untouched.
    for call in (client.get, client.delete):
        assert call(own.kind(kind, setting["id"]), headers=stranger.headers).status_code == 404
    response = client.patch(own.kind(kind, setting["id"]), json={"name": "x"}, headers=own.headers)
    assert response.status_code == 404
    # Our organisation in the path: forbidden before anything is looked up.
    as_stranger = {"Authorization": f"Token {stranger.token}"}
    assert client.get(target.notifications, headers=as_stranger).status_code == 403
    assert client.get(target.kind(kind, setting["id"]), headers=as_stranger).status_code == 403
    assert client.get(target.kind(kind, setting["id"]), headers=target.headers).json() == setting
    assert setting_exists(database, setting["id"])


def test_authentication_and_permission(
    client: TestClient, database: Database, target: TargetPath, payloads: Payloads
) -> None:
    setting = create(client, target, "email", payloads("email"))
    url = target.kind("email", setting["id"])
    assert client.get(url).status_code == 401
    assert client.post(target.kind("email"), json=payloads("email")).status_code == 401
    unknown = client.get(target.notifications, headers={"Authorization": "Token nope"})
    assert unknown.json()["code"] == "not_authenticated"
    settings_only = add_user(database, target.tenant, permissions=["settings"])
    for response in (
        client.get(target.notifications, headers=settings_only.headers),
        client.get(url, headers=settings_only.headers),
        client.patch(url, json={"name": "x"}, headers=settings_only.headers),
        client.delete(url, headers=settings_only.headers),
        client.post(target.kind("email"), json=payloads("email"), headers=settings_only.headers),
    ):
        assert response.status_code == 403
        assert response.json()["code"] == "permission_denied"
    reporting = add_user(database, target.tenant, permissions=["reporting"])
    assert client.get(url, headers=reporting.headers).json() == setting


@pytest.mark.parametrize("kind", KINDS)
def test_post_target_must_be_the_path_target(
    client: TestClient, target: TargetPath, payloads: Payloads, kind: str
) -> None:
    same = create(client, target, kind, {**payloads(kind), "target": target.target_id})
    assert same["target"] == target.target_id
    sibling = make_target(client, target.tenant, target.workflow_id)
    response = client.post(
        target.kind(kind),
        json={**payloads(kind), "target": sibling.target_id},
        headers=target.headers,
    )
    body = assert_invalid(response, ["body", "target"])
    assert "PATCH" in body["detail"]
    assert "move" in body["detail"]
    assert client.get(sibling.kind(kind), headers=target.headers).json() == []
    assert client.get(target.kind(kind), headers=target.headers).json() == [same]
    response = client.post(
        target.kind(kind), json={**payloads(kind), "target": "nope"}, headers=target.headers
    )
    assert_invalid(response, ["body", "target"])


@pytest.mark.parametrize("kind", KINDS)
def test_patch_target_moves_a_setting_to_another_target_of_the_organisation(
    client: TestClient, target: TargetPath, payloads: Payloads, kind: str
) -> None:
    setting = create(client, target, kind, {**payloads(kind), "name": "Moving"})
    elsewhere = make_target(client, target.tenant)  # another workflow, same organisation
    response = client.patch(
        target.kind(kind, setting["id"]),
        json={"target": elsewhere.target_id, "name": "Moved"},
        headers=target.headers,
    )
    assert response.status_code == 200, response.text
    moved = response.json()
    assert moved == {**setting, "target": elsewhere.target_id, "name": "Moved"}
    assert client.get(target.kind(kind, setting["id"]), headers=target.headers).status_code == 404
    assert client.get(target.kind(kind), headers=target.headers).json() == []
    assert client.get(elsewhere.kind(kind, setting["id"]), headers=target.headers).json() == moved
    assert client.get(elsewhere.notifications, headers=target.headers).json()[kind] == [moved]
    # Naming the target it already has changes nothing.
    again = client.patch(
        elsewhere.kind(kind, setting["id"]),
        json={"target": elsewhere.target_id},
        headers=target.headers,
    )
    assert again.json() == moved


@pytest.mark.parametrize("kind", KINDS)
def test_patch_target_outside_the_organisation_is_refused(
    client: TestClient,
    target: TargetPath,
    payloads: Payloads,
    new_tenant: Callable[..., Tenant],
    kind: str,
) -> None:
    setting = create(client, target, kind, payloads(kind))
    foreign = make_target(client, new_tenant())
    url = target.kind(kind, setting["id"])
    for value in (foreign.target_id, str(uuid.uuid4()), None, "nope"):
        response = client.patch(
            url, json={"target": value, "name": "changed"}, headers=target.headers
        )
        assert_invalid(response, ["body", "target"])
    assert client.get(url, headers=target.headers).json() == setting
    assert client.get(foreign.kind(kind), headers=foreign.headers).json() == []


def test_a_failed_move_leaves_the_setting_where_it_was(
    client: TestClient, target: TargetPath, payloads: Payloads
) -> None:
    setting = create(client, target, "bar", payloads("bar"))
    elsewhere = make_target(client, target.tenant, target.workflow_id)
    response = client.patch(
        target.kind("bar", setting["id"]),
        json={"target": elsewhere.target_id, "channel_id": str(uuid.uuid4()), "name": "x"},
        headers=target.headers,
    )
    assert_invalid(response, ["body", "channel_id"])
    assert client.get(target.kind("bar", setting["id"]), headers=target.headers).json() == setting
    assert client.get(elsewhere.kind("bar"), headers=target.headers).json() == []


def test_deleting_the_target_deletes_its_settings(
    client: TestClient, database: Database, target: TargetPath, payloads: Payloads
) -> None:
    made = [create(client, target, kind, payloads(kind)) for kind in KINDS]
    sibling = make_target(client, target.tenant, target.workflow_id)
    kept = create(client, sibling, "email", payloads("email"))
    assert client.delete(target.url, headers=target.headers).status_code == 204
    assert client.get(target.notifications, headers=target.headers).status_code == 404
    for kind, setting in zip(KINDS, made, strict=True):
        url = target.kind(kind, setting["id"])
        assert client.get(url, headers=target.headers).status_code == 404
        assert client.get(
            sibling.kind(kind, setting["id"]), headers=target.headers
        ).status_code == (404)
        assert not setting_exists(database, setting["id"])
    assert client.get(sibling.notifications, headers=target.headers).json()["email"] == [kept]


def test_deleting_the_workflow_deletes_its_settings(
    client: TestClient, database: Database, target: TargetPath, payloads: Payloads
) -> None:
    second = make_target(client, target.tenant, target.workflow_id)
    made = [
        create(client, target, "slack", payloads("slack")),
        create(client, second, "bar", payloads("bar")),
    ]
    survivor = make_target(client, target.tenant)
    kept = create(client, survivor, "bar", payloads("bar"))
    workflow_url = f"{target.tenant.objectives}/workflows/{target.workflow_id}"
    assert client.delete(workflow_url, headers=target.headers).status_code == 204
    for path in (target, second):
        assert client.get(path.notifications, headers=target.headers).status_code == 404
    for setting in made:
        assert not setting_exists(database, setting["id"])
    assert client.get(survivor.notifications, headers=target.headers).json()["bar"] == [kept]


def test_errors_carry_no_stack_or_sql(client: TestClient, target: TargetPath) -> None:
    response = client.post(
        target.kind("bar"), json={"channel_id": str(uuid.uuid4())}, headers=target.headers
    )
    body = assert_invalid(response, ["body", "channel_id"])
    assert set(body) == {"detail", "code", "errors"}
    text = response.text.lower()
    for leak in ("select", "traceback", "sqlalchemy", "foreign key", "integrity"):
        assert leak not in text


@pytest.mark.parametrize(
    ("kind", "field"),
    [
        ("bar", "name"),
        ("email", "name"),
        ("email", "email"),
        ("slack", "name"),
        ("slack", "token"),
        ("slack", "channel"),
        ("slack", "user"),
        ("slack", "icon_url"),
    ],
)
def test_nul_characters_are_refused_not_a_server_error(
    client: TestClient, target: TargetPath, payloads: Payloads, kind: str, field: str
) -> None:
    value = "https://example.com/a\x00b" if field == "icon_url" else "a\x00b@example.com"
    body = {**payloads(kind), field: value}
    if field == "icon_url":
        body = {"incoming_webhook_url": "https://example.com/hook", "icon_url": value}
    assert_invalid(
        client.post(target.kind(kind), json=body, headers=target.headers), ["body", field]
    )
