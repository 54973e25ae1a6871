"""Cursors are signed: every cursor list refuses one this server did not give out (400)."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
from fastapi.testclient import TestClient

from tallybook.kit.db import Database
from tallybook.kit.pagination import Cursor, cursor_key
from tests.chats.factories import ChatApi
from tests.fixtures.tenants import Tenant
from tests.targets.factories import create_target, make_workflow, targets_url

FORGED = "The cursor is not one this server gave out."


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unsigned(time: str) -> str:
    """A well-formed cursor as the server used to issue them: base64url JSON, no signature."""
    return _b64(orjson.dumps({"f": True, "t": time, "i": uuid.uuid4().hex}))


def _lists(client: TestClient, tenant: Tenant) -> list[str]:
    """The five cursor lists: rooms, chats, messages, evaluations, notification log."""
    api = ChatApi(client, tenant)
    room = api.room()["id"]
    chat = api.chat(room)["id"]
    workflow = make_workflow(client, tenant)
    target = create_target(client, tenant, workflow)["id"]
    target_url = f"{targets_url(tenant, workflow)}/{target}"
    return [
        api.rooms,
        api.chats(room),
        api.messages(room, chat),
        f"{target_url}/evaluations",
        f"{target_url}/notifications/log",
    ]


def _signed(database: Database, cursor: Cursor) -> str:
    return cursor.encode(cursor_key(database.settings.signing_key()))


def _forgeries(database: Database) -> dict[str, str]:
    genuine = _signed(database, Cursor(True, datetime(2024, 3, 1, tzinfo=UTC), uuid.uuid4()))
    payload, _, signature = genuine.partition(".")
    other = _b64(orjson.dumps({"f": False, "t": "2024-03-01T00:00:00+00:00", "i": "0" * 32}))
    return {
        "year 1 at +14:00": _unsigned("0001-01-01T00:00:00+14:00"),
        "year 9999 at -14:00": _unsigned("9999-12-31T23:59:59-14:00"),
        "unsigned": _unsigned("2024-03-01T00:00:00+00:00"),
        "other payload, genuine signature": f"{other}.{signature}",
        "genuine payload, altered signature": f"{payload}.{signature[::-1]}",
        "signed with another key": Cursor(
            True, datetime(2024, 3, 1, tzinfo=UTC), uuid.uuid4()
        ).encode(cursor_key("another-installation")),
        "not base64": "!!!.???",
        "non-ASCII": "é.é",
        "empty signature": f"{payload}.",
    }


def test_forged_cursors_are_400_on_every_cursor_list(
    client: TestClient, tenant: Tenant, database: Database
) -> None:
    for url in _lists(client, tenant):
        for name, cursor in _forgeries(database).items():
            response = client.get(url, params={"cursor": cursor}, headers=tenant.headers)
            assert response.status_code == 400, (url, name, response.text)
            assert response.json() == {"detail": FORGED, "code": "bad_request"}, (url, name)


def test_a_signed_cursor_is_accepted_on_every_cursor_list(
    client: TestClient, tenant: Tenant, database: Database
) -> None:
    cursor = _signed(database, Cursor(True, datetime(2999, 1, 1, tzinfo=UTC), uuid.uuid4()))
    for url in _lists(client, tenant):
        response = client.get(url, params={"cursor": cursor}, headers=tenant.headers)
        assert response.status_code == 200, (url, response.text)
        assert response.json()["previous"] is None or "cursor=" in response.json()["previous"]


def test_issued_cursors_are_stable_and_opaque(client: TestClient, tenant: Tenant) -> None:
    api = ChatApi(client, tenant)
    for day in range(1, 5):
        api.room(name=f"Room {day}")
    first = api.get(api.rooms, page_size=2)
    link: Any = first["next"]
    assert api.get(link) == api.get(link)  # the same cursor gives the same page
    cursor = link.split("cursor=", 1)[1].split("&", 1)[0]
    assert "2024" not in cursor and "{" not in cursor
    second = api.get(link)
    assert [r["id"] for r in api.get(second["previous"])["results"]] == [
        r["id"] for r in first["results"]
    ]
