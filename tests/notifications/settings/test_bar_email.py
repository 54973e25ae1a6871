"""BAR (a chat of the organisation) and e-mail settings."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from tallybook.kit.db import Database
from tests.fixtures.tenants import Tenant
from tests.notifications.factories import TargetPath, assert_invalid, create, insert_chat


def test_bar_seed_payload(client: TestClient, target: TargetPath, chat_id: str) -> None:
    body = {"name": "Reporting channel", "target": target.target_id, "channel_id": chat_id}
    setting = create(client, target, "bar", body)
    assert setting["name"] == "Reporting channel"
    assert setting["channel_id"] == chat_id
    assert setting["target"] == target.target_id


def test_bar_channel_must_be_a_chat_of_the_organisation(
    client: TestClient,
    database: Database,
    target: TargetPath,
    new_tenant: Callable[..., Tenant],
) -> None:
    foreign_chat = insert_chat(database, new_tenant().org_id)
    for body in (
        {},
        {"channel_id": None},
        {"channel_id": "not-a-uuid"},
        {"channel_id": 7},
        {"channel_id": str(uuid.uuid4())},
        {"channel_id": foreign_chat},
    ):
        response = client.post(target.kind("bar"), json=body, headers=target.headers)
        result = assert_invalid(response, ["body", "channel_id"])
        assert foreign_chat not in result["detail"]
    assert client.get(target.kind("bar"), headers=target.headers).json() == []


def test_bar_patch_channel(
    client: TestClient,
    database: Database,
    target: TargetPath,
    chat_id: str,
    new_tenant: Callable[..., Tenant],
) -> None:
    setting = create(client, target, "bar", {"channel_id": chat_id})
    url = target.kind("bar", setting["id"])
    other_chat = insert_chat(database, target.tenant.org_id)
    response = client.patch(url, json={"channel_id": other_chat}, headers=target.headers)
    assert response.status_code == 200
    assert response.json() == {**setting, "channel_id": other_chat}
    foreign_chat = insert_chat(database, new_tenant().org_id)
    for value in (foreign_chat, str(uuid.uuid4()), None, "nope"):
        response = client.patch(
            url, json={"channel_id": value, "name": "changed"}, headers=target.headers
        )
        assert_invalid(response, ["body", "channel_id"])
    assert client.get(url, headers=target.headers).json() == {**setting, "channel_id": other_chat}


def test_email_seed_payload_and_normalisation(client: TestClient, target: TargetPath) -> None:
    body = {"target": target.target_id, "email": "Team.Lead@Example.COM", "is_bundleable": True}
    setting = create(client, target, "email", body)
    assert setting["email"] == "Team.Lead@example.com"
    assert setting["is_bundleable"] is True
    plain = create(client, target, "email", {"email": "ops@example.org"})
    assert plain["is_bundleable"] is False


@pytest.mark.parametrize(
    "email",
    ["", "no-at-sign", "a@b", "two@@example.com", "a b@example.com", "x@localhost", None, 3],
)
def test_email_must_be_a_valid_address(
    client: TestClient, target: TargetPath, email: object
) -> None:
    response = client.post(target.kind("email"), json={"email": email}, headers=target.headers)
    assert_invalid(response, ["body", "email"])
    assert client.get(target.kind("email"), headers=target.headers).json() == []


def test_email_is_required(client: TestClient, target: TargetPath) -> None:
    response = client.post(target.kind("email"), json={"name": "x"}, headers=target.headers)
    body = assert_invalid(response, ["body", "email"])
    assert body["errors"][0]["msg"] == "This field is required."


@pytest.mark.parametrize("flag", ["true", "yes", 1, 0, None, "false"])
def test_email_is_bundleable_is_strictly_boolean(
    client: TestClient, target: TargetPath, flag: object
) -> None:
    body = {"email": "a@example.com", "is_bundleable": flag}
    response = client.post(target.kind("email"), json=body, headers=target.headers)
    assert_invalid(response, ["body", "is_bundleable"])


def test_email_patch(client: TestClient, target: TargetPath) -> None:
    setting = create(client, target, "email", {"email": "a@example.com"})
    url = target.kind("email", setting["id"])
    response = client.patch(url, json={"email": "B@Example.com"}, headers=target.headers)
    assert response.status_code == 200
    assert response.json() == {**setting, "email": "B@example.com"}
    response = client.patch(url, json={"is_bundleable": True}, headers=target.headers)
    current = {**setting, "email": "B@example.com", "is_bundleable": True}
    assert response.json() == current
    for body, loc in [
        ({"email": None}, "email"),
        ({"email": "broken", "name": "changed"}, "email"),
        ({"is_bundleable": None}, "is_bundleable"),
        ({"is_bundleable": "true"}, "is_bundleable"),
    ]:
        assert_invalid(client.patch(url, json=body, headers=target.headers), ["body", loc])
    assert client.get(url, headers=target.headers).json() == current


def test_bar_and_email_do_not_accept_slack_fields(
    client: TestClient, target: TargetPath, chat_id: str
) -> None:
    response = client.post(
        target.kind("bar"), json={"channel_id": chat_id, "token": "x"}, headers=target.headers
    )
    assert_invalid(response, ["body", "token"])
    response = client.post(
        target.kind("email"),
        json={"email": "a@example.com", "channel_id": chat_id},
        headers=target.headers,
    )
    assert_invalid(response, ["body", "channel_id"])
