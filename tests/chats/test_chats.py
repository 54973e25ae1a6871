from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.chats.factories import ChatApi


def test_create_and_get_chat(api: ChatApi) -> None:
    room = api.room(name="Sales")
    chat = api.chat(
        room["id"],
        created_at="2024-03-01T14:00:00.123456+02:00",
        ended_at="2024-03-01T12:30:00Z",
        is_private=True,
        chat_type="operator",
        first_visitor_message_url="https://shop.example.com/p/1",
        first_visitor_message_url_title="Product 1",
        autosuggest_url="https://shop.example.com/",
        autosuggest_url_title="Home",
        tag_count=2,
    )
    assert chat["created_at"] == "2024-03-01T12:00:00.123Z"
    assert chat["ended_at"] == "2024-03-01T12:30:00.000Z"
    assert chat["is_ended"] is True
    assert chat["is_private"] is True
    assert chat["chat_type"] == "operator"
    assert chat["tag_count"] == 2
    assert chat["first_visitor_message_url_title"] == "Product 1"
    assert chat["room_id"] == room["id"]
    assert chat["room_name"] == "Sales"
    assert chat["organization_id"] == str(api.tenant.org_id)
    assert chat["message_count"] == chat["user_message_count"] == 0
    assert chat["visitor_message_count"] == 0
    assert chat["is_waiting"] is chat["is_real_conversation"] is chat["is_autosuggested"] is False
    assert api.get(f"{api.chats(room['id'])}/{chat['id']}") == chat


def test_chat_defaults(api: ChatApi, room_id: str) -> None:
    chat = api.chat(room_id, created_at="2024-03-01T12:00:00")
    assert chat["created_at"] == "2024-03-01T12:00:00.000Z"  # naive is UTC
    assert chat["ended_at"] is None
    assert chat["is_ended"] is False
    assert chat["chat_type"] == "visitor"
    assert chat["is_private"] is False
    assert chat["tag_count"] == 0


@pytest.mark.parametrize(
    ("payload", "loc", "msg"),
    [
        ({}, ["body", "created_at"], "This field is required."),
        (
            {"created_at": "2024-03-01T12:00:00Z", "ended_at": "2024-03-01T11:59:59Z"},
            ["body", "ended_at"],
            "ended_at must not be before created_at",
        ),
        ({"created_at": "yesterday"}, ["body", "created_at"], None),
        ({"created_at": "2024-03-01T12:00:00Z", "chat_type": "bot"}, ["body", "chat_type"], None),
        ({"created_at": "2024-03-01T12:00:00Z", "tag_count": -1}, ["body", "tag_count"], None),
        ({"created_at": "2024-03-01T12:00:00Z", "id": "abc"}, ["body", "id"], None),
        (
            {"created_at": "2024-03-01T12:00:00Z", "message_count": 3},
            ["body", "message_count"],
            "This field is read-only.",
        ),
        (
            {"created_at": "2024-03-01T12:00:00Z", "is_waiting": False},
            ["body", "is_waiting"],
            "This field is read-only.",
        ),
        (
            {"created_at": "2024-03-01T12:00:00Z", "room_id": str(uuid.uuid4())},
            ["body", "room_id"],
            "This field is read-only.",
        ),
        ({"created_at": "2024-03-01T12:00:00Z", "topic": "x"}, ["body", "topic"], "Unknown field."),
    ],
)
def test_invalid_chat_payloads_are_400(
    api: ChatApi, room_id: str, payload: dict[str, Any], loc: list[str], msg: str | None
) -> None:
    body = api.post(api.chats(room_id), payload, status=400)
    assert body["code"] == "invalid"
    assert [e["loc"] for e in body["errors"]] == [loc]
    if msg is not None:
        assert body["errors"][0]["msg"] == msg
    assert api.get(api.chats(room_id))["results"] == []


def test_chat_with_client_id_and_duplicate(api: ChatApi, room_id: str) -> None:
    chat_id = str(uuid.uuid4())
    assert api.chat(room_id, id=chat_id)["id"] == chat_id
    body = api.post(
        api.chats(room_id), {"id": chat_id, "created_at": "2024-03-01T12:00:00Z"}, status=400
    )
    assert body["errors"] == [{"loc": ["body", "id"], "msg": "A chat with this id already exists."}]
    assert len(api.get(api.chats(room_id))["results"]) == 1


def test_chat_of_another_room_is_404(api: ChatApi, room_id: str) -> None:
    chat = api.chat(room_id)
    other_room = api.room(name="Other")["id"]
    api.get(f"{api.chats(other_room)}/{chat['id']}", status=404)
    api.get(api.messages(other_room, chat["id"]), status=404)
    api.post(
        api.messages(other_room, chat["id"]),
        {"sender_type": "user", "created_at": "2024-03-01T12:00:00Z"},
        status=404,
    )
    api.get(f"{api.chats(room_id)}/{uuid.uuid4()}", status=404)
    api.get(f"{api.chats(room_id)}/not-a-uuid", status=404)


def test_chats_are_paged_newest_first_both_ways(api: ChatApi, room_id: str) -> None:
    ids = [api.chat(room_id, created_at=f"2024-03-0{day}T12:00:00Z")["id"] for day in range(1, 8)]
    newest_first = list(reversed(ids))
    first = api.get(api.chats(room_id), page_size=3)
    assert first["previous"] is None
    second = api.get(first["next"])
    third = api.get(second["next"])
    assert third["next"] is None
    pages = [first, second, third]
    assert [[c["id"] for c in p["results"]] for p in pages] == [
        newest_first[0:3],
        newest_first[3:6],
        newest_first[6:7],
    ]
    back = api.get(third["previous"])
    assert [c["id"] for c in back["results"]] == newest_first[3:6]
    back = api.get(back["previous"])
    assert [c["id"] for c in back["results"]] == newest_first[0:3]
    assert back["previous"] is None
    assert "page_size=3" in back["next"]


def test_chats_of_a_room_only(api: ChatApi, room_id: str) -> None:
    api.chat(room_id)
    other_room = api.room(name="Other")["id"]
    other_chat = api.chat(other_room)
    listed = api.get(api.chats(other_room))["results"]
    assert [c["id"] for c in listed] == [other_chat["id"]]


def _chat_with(api: ChatApi, room_id: str, day: int, senders: list[str], **fields: Any) -> str:
    chat = api.chat(room_id, created_at=f"2024-03-{day:02d}T12:00:00Z", **fields)
    for minute, sender in enumerate(senders, start=1):
        api.message(
            room_id,
            chat["id"],
            sender_type=sender,
            created_at=f"2024-03-{day:02d}T12:{minute:02d}:00Z",
        )
    return str(chat["id"])


def test_is_waiting_and_is_ended_filters(api: ChatApi, room_id: str) -> None:
    ended = _chat_with(
        api, room_id, 1, ["user", "visitor"], ended_at="2024-03-01T13:00:00Z"
    )  # the visitor wrote last, but the chat is over
    waiting = _chat_with(api, room_id, 2, ["user", "visitor"])
    answered = _chat_with(api, room_id, 3, ["visitor", "user"])
    empty = _chat_with(api, room_id, 4, [])

    def listed(**params: str) -> set[str]:
        return {c["id"] for page in api.all_pages(api.chats(room_id), **params) for c in page}

    assert listed(is_waiting="true") == {waiting}
    assert listed(is_waiting="false") == {ended, answered, empty}
    assert listed(is_ended="true") == {ended}
    assert listed(is_ended="false") == {waiting, answered, empty}
    assert listed(is_waiting="false", is_ended="false") == {answered, empty}
    assert listed() == {ended, waiting, answered, empty}
    assert listed(is_waiting="", is_ended="") == {ended, waiting, answered, empty}  # no filter
    page = api.get(api.chats(room_id), is_waiting="false", page_size=1)
    assert "is_waiting=false" in page["next"]
    body = api.get(api.chats(room_id), status=400, is_waiting="perhaps")
    assert body["errors"][0]["loc"] == ["query", "is_waiting"]
