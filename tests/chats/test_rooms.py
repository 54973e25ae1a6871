from __future__ import annotations

import re
import uuid
from collections.abc import Callable

from tests.chats.factories import ChatApi
from tests.fixtures.tenants import Tenant

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def test_create_and_get_room(api: ChatApi) -> None:
    created = api.room(
        name="Sales",
        display_name="Sales team",
        domain="shop.example.com",
        allowed_domains=["shop.example.com", "example.org"],
        is_shared=True,
        language_code="fi",
    )
    assert created["name"] == "Sales"
    assert created["display_name"] == "Sales team"
    assert created["allowed_domains"] == ["shop.example.com", "example.org"]
    assert created["is_shared"] is True
    assert created["language_code"] == "fi"
    assert created["is_deleted"] is False
    assert created["organization_id"] == str(api.tenant.org_id)
    assert TIMESTAMP.match(created["created_at"])
    assert TIMESTAMP.match(created["updated_at"])
    assert api.get(f"{api.rooms}/{created['id']}") == created


def test_room_defaults(api: ChatApi) -> None:
    room = api.room(name="Plain")
    assert room["display_name"] is None
    assert room["domain"] is None
    assert room["allowed_domains"] == []
    assert room["is_shared"] is False


def test_invalid_room_payloads_are_400(api: ChatApi) -> None:
    missing = api.post(api.rooms, {"display_name": "x"}, status=400)
    assert missing["errors"] == [{"loc": ["body", "name"], "msg": "This field is required."}]
    empty = api.post(api.rooms, {"name": ""}, status=400)
    assert empty["errors"][0]["loc"] == ["body", "name"]
    unknown = api.post(api.rooms, {"name": "x", "colour": "red"}, status=400)
    assert unknown["errors"] == [{"loc": ["body", "colour"], "msg": "Unknown field."}]
    for field, value in (("id", str(uuid.uuid4())), ("is_deleted", True), ("created_at", "x")):
        body = api.post(api.rooms, {"name": "x", field: value}, status=400)
        assert body["errors"] == [{"loc": ["body", field], "msg": "This field is read-only."}]
    assert api.get(api.rooms)["results"] == []


def test_rooms_are_paged_newest_first(api: ChatApi) -> None:
    made = [api.room(name=f"Room {i}")["id"] for i in range(5)]
    pages = api.all_pages(api.rooms, page_size=2)
    assert [len(page) for page in pages] == [2, 2, 1]
    listed = [room for page in pages for room in page]
    assert sorted(r["id"] for r in listed) == sorted(made)
    keys = [(r["created_at"], r["id"]) for r in listed]
    assert keys == sorted(keys, reverse=True)


def test_another_organisations_room_is_404(api: ChatApi, new_tenant: Callable[..., Tenant]) -> None:
    room = api.room()
    other = ChatApi(api.client, new_tenant())
    assert other.get(f"{other.rooms}/{room['id']}", status=404)["code"] == "not_found"
    other.get(other.chats(room["id"]), status=404)
    other.post(other.chats(room["id"]), {"created_at": "2024-01-01T00:00:00Z"}, status=404)
    assert other.get(other.rooms)["results"] == []


def test_unknown_or_malformed_room_id_is_404(api: ChatApi) -> None:
    api.get(f"{api.rooms}/{uuid.uuid4()}", status=404)
    api.get(f"{api.rooms}/not-a-uuid", status=404)
