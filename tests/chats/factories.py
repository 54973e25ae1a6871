"""Rooms, chats and messages made through the API."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.fixtures.tenants import Tenant


class ChatApi:
    """A tenant's view of the chat endpoints, asserting the expected status on each call."""

    def __init__(self, client: TestClient, tenant: Tenant) -> None:
        self.client = client
        self.tenant = tenant

    @property
    def rooms(self) -> str:
        return f"{self.tenant.v5}/rooms"

    def chats(self, room_id: str) -> str:
        return f"{self.rooms}/{room_id}/chats"

    def messages(self, room_id: str, chat_id: str) -> str:
        return f"{self.chats(room_id)}/{chat_id}/messages"

    def post(self, url: str, payload: Any, status: int = 201) -> Any:
        response = self.client.post(url, json=payload, headers=self.tenant.headers)
        assert response.status_code == status, response.text
        return response.json()

    def get(self, url: str, status: int = 200, **params: Any) -> Any:
        # No `params` at all when there are none: an empty mapping would drop the URL's query.
        response = self.client.get(url, params=params or None, headers=self.tenant.headers)
        assert response.status_code == status, response.text
        return response.json()

    def room(self, **fields: Any) -> dict[str, Any]:
        return dict(self.post(self.rooms, {"name": "Support", **fields}))

    def chat(self, room_id: str, **fields: Any) -> dict[str, Any]:
        payload = {"created_at": "2024-03-01T12:00:00Z", **fields}
        return dict(self.post(self.chats(room_id), payload))

    def message(self, room_id: str, chat_id: str, **fields: Any) -> dict[str, Any]:
        payload = {"sender_type": "visitor", "created_at": "2024-03-01T12:01:00Z", **fields}
        return dict(self.post(self.messages(room_id, chat_id), payload))

    def import_ndjson(self, room_id: str, body: str | bytes, **headers: str) -> Any:
        return self.client.post(
            f"{self.chats(room_id)}/import",
            content=body,
            headers={**self.tenant.headers, **headers},
        )

    def all_pages(self, url: str, **params: Any) -> list[list[dict[str, Any]]]:
        """Every page from the first, following `next` until it is null."""
        pages = []
        page = self.get(url, **params)
        pages.append(page["results"])
        while page["next"] is not None:
            page = self.get(page["next"])
            pages.append(page["results"])
        return pages
