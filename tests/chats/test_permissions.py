from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from tallybook.kit.db import Database
from tests.chats.factories import ChatApi
from tests.fixtures.tenants import Tenant, add_user

CHAT = {"created_at": "2024-03-01T12:00:00Z"}
MESSAGE = {"sender_type": "visitor", "created_at": "2024-03-01T12:01:00Z"}


@pytest.fixture
def chat_ids(api: ChatApi, room_id: str) -> tuple[str, str]:
    return room_id, str(api.chat(room_id)["id"])


def _as(api: ChatApi, database: Database, *permissions: str) -> ChatApi:
    return ChatApi(api.client, add_user(database, api.tenant, permissions=permissions))


@pytest.mark.parametrize("permission", ["reporting", "settings"])
def test_reporting_or_settings_may_read(
    api: ChatApi, database: Database, chat_ids: tuple[str, str], permission: str
) -> None:
    room_id, chat_id = chat_ids
    reader = _as(api, database, permission)
    assert [r["id"] for r in reader.get(reader.rooms)["results"]] == [room_id]
    reader.get(f"{reader.rooms}/{room_id}")
    assert [c["id"] for c in reader.get(reader.chats(room_id))["results"]] == [chat_id]
    reader.get(f"{reader.chats(room_id)}/{chat_id}")
    reader.get(reader.messages(room_id, chat_id))


def test_reporting_only_user_cannot_write(
    api: ChatApi, database: Database, chat_ids: tuple[str, str]
) -> None:
    room_id, chat_id = chat_ids
    reporter = _as(api, database, "reporting")
    for url, payload in (
        (reporter.rooms, {"name": "New"}),
        (reporter.chats(room_id), CHAT),
        (reporter.messages(room_id, chat_id), MESSAGE),
    ):
        body = reporter.post(url, payload, status=403)
        assert body["code"] == "permission_denied"
    response = reporter.import_ndjson(room_id, '{"created_at": "2024-03-01T12:00:00Z"}')
    assert response.status_code == 403
    assert len(api.get(api.rooms)["results"]) == 1
    assert len(api.get(api.chats(room_id))["results"]) == 1
    assert api.get(api.messages(room_id, chat_id))["results"] == []


def test_settings_only_user_can_write(
    api: ChatApi, database: Database, chat_ids: tuple[str, str]
) -> None:
    room_id, chat_id = chat_ids
    admin = _as(api, database, "settings")
    admin.post(admin.rooms, {"name": "New"})
    admin.post(admin.chats(room_id), CHAT)
    admin.post(admin.messages(room_id, chat_id), MESSAGE)
    assert admin.import_ndjson(room_id, '{"created_at": "2024-03-01T12:00:00Z"}').status_code == 201


def test_user_without_permissions_cannot_read(
    api: ChatApi, database: Database, chat_ids: tuple[str, str]
) -> None:
    room_id, chat_id = chat_ids
    nobody = _as(api, database)
    assert nobody.get(nobody.rooms, status=403)["code"] == "permission_denied"
    nobody.get(nobody.messages(room_id, chat_id), status=403)


def test_other_organisation_path_and_no_token(
    api: ChatApi, client: TestClient, new_tenant: Callable[..., Tenant], room_id: str
) -> None:
    stranger = new_tenant()
    response = client.get(api.chats(room_id), headers=stranger.headers)
    assert response.status_code == 403
    assert response.json()["code"] == "organization_forbidden"
    assert client.get(api.rooms).status_code == 401
    assert client.post(f"{api.chats(room_id)}/import", content=b"{}").status_code == 401


def test_inactive_subscription_is_403(
    client: TestClient, new_tenant: Callable[..., Tenant]
) -> None:
    inactive = new_tenant(active=False)
    response = client.get(f"{inactive.v5}/rooms", headers=inactive.headers)
    assert response.status_code == 403
    assert response.json()["code"] == "subscription_inactive"
