from __future__ import annotations

import uuid
from typing import Any

import pytest

from tallybook.chats import repository, service
from tallybook.kit.db import Database
from tests.chats.factories import ChatApi


def _at(minute: int) -> str:
    return f"2024-03-01T12:{minute:02d}:00Z"


def test_create_and_list_messages(api: ChatApi, room_id: str) -> None:
    chat = api.chat(room_id)
    made = api.message(
        room_id,
        chat["id"],
        type="msg",
        sender_type="user",
        sender_id="u-1",
        sender_name="Alice Smith",
        sender_public_name="Alice",
        message="Hello, how can I help?",
        created_at="2024-03-01T14:01:00+02:00",
    )
    assert made["chat_id"] == chat["id"]
    assert made["type"] == "msg"
    assert made["created_at"] == "2024-03-01T12:01:00.000Z"
    assert made["sender_type"] == "user"
    assert made["sender_id"] == "u-1"
    assert made["sender_name"] == "Alice Smith"
    assert made["sender_public_name"] == "Alice"
    assert made["message"] == "Hello, how can I help?"
    assert made["attachments"] is None
    page = api.get(api.messages(room_id, chat["id"]))
    assert page == {"next": None, "previous": None, "results": [made]}


def test_messages_are_paged_newest_first(api: ChatApi, room_id: str) -> None:
    chat_id = api.chat(room_id)["id"]
    for minute in (3, 1, 5, 2, 4):  # written out of time order
        api.message(room_id, chat_id, created_at=_at(minute), message=str(minute))
    pages = api.all_pages(api.messages(room_id, chat_id), page_size=2)
    assert [[m["message"] for m in page] for page in pages] == [["5", "4"], ["3", "2"], ["1"]]
    last = api.get(api.messages(room_id, chat_id), page_size=4)
    assert last["next"] is not None
    tail = api.get(last["next"])
    assert [m["message"] for m in tail["results"]] == ["1"]
    assert tail["next"] is None
    back = api.get(tail["previous"])
    assert [m["message"] for m in back["results"]] == ["5", "4", "3", "2"]
    assert back["previous"] is None


@pytest.mark.parametrize(
    ("fields", "loc", "msg"),
    [
        ({"type": "reporting_card"}, ["body", "type"], None),
        ({"type": "note"}, ["body", "type"], None),
        ({"sender_type": "system"}, ["body", "sender_type"], None),
        ({"sender_type": None}, ["body", "sender_type"], None),
        ({"created_at": None}, ["body", "created_at"], None),
        ({"message": "x" * 2001}, ["body", "message"], None),
        ({"attachments": {"card": 1}}, ["body", "attachments"], "This field is read-only."),
        ({"id": str(uuid.uuid4())}, ["body", "id"], "This field is read-only."),
        ({"chat_id": str(uuid.uuid4())}, ["body", "chat_id"], "This field is read-only."),
        ({"mood": "happy"}, ["body", "mood"], "Unknown field."),
    ],
)
def test_invalid_message_payloads_are_400(
    api: ChatApi, room_id: str, fields: dict[str, Any], loc: list[str], msg: str | None
) -> None:
    chat_id = api.chat(room_id)["id"]
    payload = {"sender_type": "visitor", "created_at": _at(1), **fields}
    payload = {k: v for k, v in payload.items() if v is not None}
    body = api.post(api.messages(room_id, chat_id), payload, status=400)
    assert [e["loc"] for e in body["errors"]] == [loc]
    if msg is not None:
        assert body["errors"][0]["msg"] == msg
    assert api.get(api.messages(room_id, chat_id))["results"] == []
    assert api.get(f"{api.chats(room_id)}/{chat_id}")["message_count"] == 0


def test_message_of_2000_characters_is_accepted(api: ChatApi, room_id: str) -> None:
    chat_id = api.chat(room_id)["id"]
    assert len(api.message(room_id, chat_id, message="é" * 2000)["message"]) == 2000


def _chat(api: ChatApi, room_id: str, chat_id: str) -> dict[str, Any]:
    return dict(api.get(f"{api.chats(room_id)}/{chat_id}"))


def test_derived_fields_follow_the_messages(api: ChatApi, room_id: str) -> None:
    created = api.chat(room_id)
    chat_id = created["id"]

    def add(type_: str, sender: str, minute: int) -> dict[str, Any]:
        api.message(room_id, chat_id, type=type_, sender_type=sender, created_at=_at(minute))
        return _chat(api, room_id, chat_id)

    chat = add("autosuggest", "user", 1)
    assert chat["is_autosuggested"] is True
    assert chat["message_count"] == chat["user_message_count"] == 0
    chat = add("join", "user", 2)
    assert chat["message_count"] == 0
    chat = add("msg", "visitor", 3)
    assert (chat["message_count"], chat["visitor_message_count"]) == (1, 1)
    assert chat["is_waiting"] is True
    chat = add("msg", "user", 4)
    assert chat["is_waiting"] is False
    assert chat["is_real_conversation"] is False  # one user message; autosuggest excluded
    chat = add("msg", "user", 5)
    assert chat["is_real_conversation"] is True
    chat = add("leave", "user", 6)
    assert (chat["message_count"], chat["user_message_count"]) == (3, 2)
    assert chat["visitor_message_count"] == 1
    assert chat["is_autosuggested"] is True
    assert chat["updated_at"] > created["updated_at"]


def test_derived_fields_follow_created_at_not_arrival(api: ChatApi, room_id: str) -> None:
    chat_id = api.chat(room_id)["id"]
    api.message(room_id, chat_id, sender_type="visitor", created_at=_at(10))
    api.message(room_id, chat_id, sender_type="user", created_at=_at(5))  # older: not last
    chat = _chat(api, room_id, chat_id)
    assert chat["is_waiting"] is True
    assert chat["is_autosuggested"] is False
    api.message(room_id, chat_id, type="autosuggest", sender_type="user", created_at=_at(1))
    assert _chat(api, room_id, chat_id)["is_autosuggested"] is True  # now the earliest
    api.message(room_id, chat_id, sender_type="user", created_at=_at(11))
    assert _chat(api, room_id, chat_id)["is_waiting"] is False
    api.message(room_id, chat_id, sender_type="visitor", created_at=_at(0))
    chat = _chat(api, room_id, chat_id)
    assert chat["is_waiting"] is False
    assert chat["is_autosuggested"] is False  # the visitor's message at :00 is first now
    assert (chat["message_count"], chat["user_message_count"]) == (4, 2)
    assert chat["visitor_message_count"] == 2
    assert chat["is_real_conversation"] is True


def test_ended_chat_is_not_waiting(api: ChatApi, room_id: str) -> None:
    chat_id = api.chat(room_id, ended_at="2024-03-01T13:00:00Z")["id"]
    api.message(room_id, chat_id, sender_type="visitor", created_at=_at(30))
    chat = _chat(api, room_id, chat_id)
    assert chat["is_waiting"] is False
    assert chat["is_ended"] is True
    assert chat["visitor_message_count"] == 1


def test_system_message_for_the_notification_worker(
    api: ChatApi, room_id: str, database: Database
) -> None:
    chat_id = api.chat(room_id)["id"]
    api.message(room_id, chat_id, sender_type="visitor", created_at=_at(1))
    before = _chat(api, room_id, chat_id)
    with database.unit_of_work() as session:
        chat = repository.get_chat(session, api.tenant.org_id, uuid.UUID(chat_id))
        assert chat is not None
        card = service.add_system_message(
            session, chat, message="Target reached", attachments={"card": {"value": 12}}
        )
        assert card.type == "reporting_card"
        assert card.sender_type == "system"
    listed = api.get(api.messages(room_id, chat_id))["results"]
    assert listed[0]["type"] == "reporting_card"
    assert listed[0]["sender_type"] == "system"
    assert listed[0]["message"] == "Target reached"
    assert listed[0]["attachments"] == {"card": {"value": 12}}
    after = _chat(api, room_id, chat_id)
    assert after["message_count"] == before["message_count"] == 1
    assert after["is_waiting"] is True


def test_get_chat_is_scoped_to_the_organisation(
    api: ChatApi, room_id: str, database: Database, new_tenant: Any
) -> None:
    chat_id = uuid.UUID(api.chat(room_id)["id"])
    other = new_tenant()
    with database.unit_of_work() as session:
        assert repository.get_chat(session, other.org_id, chat_id) is None
        found = repository.get_chat(session, api.tenant.org_id, chat_id)
        assert found is not None
        assert found.room_name == "Support"
