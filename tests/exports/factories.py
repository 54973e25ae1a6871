"""Report exports and the chats they are made of, through the API."""

from __future__ import annotations

import json
import uuid
from typing import Any

from fastapi.testclient import TestClient

from tests.fixtures.tenants import Tenant

START = "2024-03-01T00:00:00Z"
END = "2024-04-01T00:00:00Z"


class ExportApi:
    """A tenant's view of the report export endpoints, asserting the status of each call."""

    def __init__(self, client: TestClient, tenant: Tenant) -> None:
        self.client = client
        self.tenant = tenant

    def url(self, user_id: uuid.UUID | str | None = None) -> str:
        return f"{self.tenant.v5}/users/{user_id or self.tenant.user_id}/reportexports"

    def post(self, payload: Any, *, user_id: Any = None) -> Any:
        return self.client.post(self.url(user_id), json=payload, headers=self.tenant.headers)

    def start(self, payload: dict[str, Any], *, user_id: Any = None) -> dict[str, Any]:
        response = self.post(payload, user_id=user_id)
        assert response.status_code == 201, response.text
        return dict(response.json())

    def get(self, export_id: str, *, user_id: Any = None, status: int = 200) -> Any:
        url = f"{self.url(user_id)}/{export_id}"
        response = self.client.get(url, headers=self.tenant.headers)
        assert response.status_code == status, response.text
        return response.json()

    def page(self, url: str | None = None, **params: Any) -> Any:
        response = self.client.get(
            url or self.url(), params=params or None, headers=self.tenant.headers
        )
        assert response.status_code == 200, response.text
        return response.json()

    def room(self, name: str = "Support") -> str:
        response = self.client.post(
            f"{self.tenant.v5}/rooms", json={"name": name}, headers=self.tenant.headers
        )
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    def import_chats(self, room_id: str, chats: list[dict[str, Any]]) -> None:
        body = "\n".join(json.dumps(chat) for chat in chats)
        response = self.client.post(
            f"{self.tenant.v5}/rooms/{room_id}/chats/import",
            content=body,
            headers={**self.tenant.headers, "Content-Type": "application/x-ndjson"},
        )
        assert response.status_code == 201, response.text


def logs(room_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "type": "logs",
        "format": "csv",
        "room_id": room_id,
        "starting_at": START,
        "ending_at": END,
        **fields,
    }


def stats(room_id: str, **fields: Any) -> dict[str, Any]:
    return {**logs(room_id, type="stats"), **fields}


def message(
    at: str, sender: str = "visitor", text: str | None = "hello", **fields: Any
) -> dict[str, Any]:
    return {"created_at": at, "sender_type": sender, "message": text, **fields}


def chat(created_at: str, *messages: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "created_at": created_at, "messages": list(messages), **fields}


# --- a room with a known history ------------------------------------------------------
#
# In Europe/Helsinki (UTC+2 in March 2024). Local days: A on 1 March; B (23:30 UTC on
# 1 March is 01:30 on 2 March), C and the operator chat H on 2 March; D on 3 March; E on
# 5 March. F is before the range; the Sales room has a chat of its own.

ZONE = "Europe/Helsinki"
RANGE_START = "2024-02-29T22:00:00Z"  # 1 March, 00:00 in Helsinki
RANGE_END = "2024-03-06T22:00:00Z"  # 7 March, 00:00 in Helsinki
FORMULA = '=HYPERLINK("http://evil.example/","click")'


class Sample:
    """The sample room's chats, by letter, as imported."""

    def __init__(self, room_id: str, chats: dict[str, dict[str, Any]]) -> None:
        self.room_id = room_id
        self.chats = chats

    def id(self, letter: str) -> str:
        return str(self.chats[letter]["id"])


def sample_chats() -> dict[str, dict[str, Any]]:
    anna = {"sender_name": "Anna", "sender_id": "u1"}
    vera = {"sender_name": "Vera", "sender_id": "v1"}
    return {
        "A": chat(
            "2024-03-01T10:00:00Z",
            message("2024-03-01T10:01:00Z", "visitor", "Hi", **vera),
            message("2024-03-01T10:02:00Z", "user", "Hello! How can I help?", **anna),
            message("2024-03-01T10:03:00Z", "visitor", FORMULA, **vera),
            message("2024-03-01T10:04:00Z", "user", "+1 555 0100", **anna),
            message("2024-03-01T10:05:00Z", "user", "Bye\nsee you", **anna),
            ended_at="2024-03-01T10:30:00Z",
        ),
        "B": chat(
            "2024-03-01T23:30:00Z",
            message("2024-03-01T23:30:00Z", "user", "Need help?", type="autosuggest", **anna),
            message("2024-03-01T23:31:00Z", "visitor", "-5% discount?", **vera),
            message("2024-03-01T23:32:00Z", "user", "@team will answer", **anna),
        ),
        "C": chat(
            "2024-03-02T09:00:00Z",
            message("2024-03-02T09:00:00Z", "visitor", "Anyone?", sender_id="v2"),
            message("2024-03-02T09:05:00Z", "visitor", "Hello?", sender_id="v2"),
        ),
        "H": chat(
            "2024-03-02T10:00:00Z",
            message("2024-03-02T10:00:00Z", "user", "Internal note", **anna),
            chat_type="operator",
        ),
        "D": chat(
            "2024-03-03T12:00:00Z",
            message("2024-03-03T12:00:00Z", "user", "Hi from us", **anna),
            message("2024-03-03T12:00:01Z", "user", None, type="join", **anna),
        ),
        "E": chat("2024-03-05T08:00:00Z"),
        "F": chat(
            "2024-02-28T12:00:00Z",
            message("2024-02-28T12:01:00Z", "visitor", "Too early", **vera),
        ),
    }


def sample_room(api: ExportApi) -> Sample:
    room_id = api.room("Tuki")
    chats = sample_chats()
    api.import_chats(room_id, list(chats.values()))
    elsewhere = api.room("Sales")
    api.import_chats(elsewhere, [chat("2024-03-02T12:00:00Z", message("2024-03-02T12:00:00Z"))])
    return Sample(room_id, chats)
