from __future__ import annotations

import json
import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tallybook.chats import imports
from tests.chats.factories import ChatApi


def _line(**chat: Any) -> str:
    return json.dumps({"created_at": "2024-03-01T12:00:00Z", "messages": [], **chat})


def _msg(minute: int, sender: str = "visitor", type_: str = "msg", **fields: Any) -> dict[str, Any]:
    return {
        "type": type_,
        "sender_type": sender,
        "created_at": f"2024-03-01T12:{minute:02d}:00Z",
        **fields,
    }


def _stored_chats(api: ChatApi, room_id: str) -> list[dict[str, Any]]:
    return [c for page in api.all_pages(api.chats(room_id), page_size=1000) for c in page]


def test_import_chats_with_messages(api: ChatApi, room_id: str) -> None:
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    body = "\n".join(
        [
            _line(
                id=first,
                created_at="2024-03-01T14:00:00+02:00",
                ended_at="2024-03-01T13:00:00Z",
                chat_type="visitor",
                first_visitor_message_url="https://shop.example.com/",
                messages=[
                    _msg(5, "user", message="Hi!", sender_name="Alice"),
                    _msg(1, "user", "autosuggest", message="Need help?"),
                    _msg(3, "visitor", message="Yes"),
                    _msg(7, "user", message="Bye"),
                    _msg(8, "user", "leave"),
                ],
            ),
            "",
            "   ",
            _line(id=second, created_at="2024-03-02T12:00:00Z", messages=[_msg(2, "visitor")]),
            _line(created_at="2024-03-03T12:00:00Z"),
            "",
        ]
    )
    response = api.import_ndjson(room_id, body, **{"Content-Type": "text/plain"})
    assert response.status_code == 201, response.text
    assert response.json() == {"chats": 3, "messages": 6}

    chats = _stored_chats(api, room_id)
    assert [c["created_at"][:10] for c in chats] == ["2024-03-03", "2024-03-02", "2024-03-01"]
    imported = chats[2]
    assert imported["id"] == first
    assert imported["ended_at"] == "2024-03-01T13:00:00.000Z"
    assert imported["first_visitor_message_url"] == "https://shop.example.com/"
    assert imported["room_name"] == "Support"
    assert (imported["message_count"], imported["user_message_count"]) == (3, 2)
    assert imported["visitor_message_count"] == 1
    assert imported["is_real_conversation"] is True
    assert imported["is_autosuggested"] is True
    assert imported["is_ended"] is True
    assert imported["is_waiting"] is False
    assert chats[1]["id"] == second
    assert chats[1]["is_waiting"] is True
    assert chats[0]["message_count"] == 0

    messages = api.get(api.messages(room_id, first))["results"]
    assert [m["created_at"][11:16] for m in messages] == [
        "12:08",
        "12:07",
        "12:05",
        "12:03",
        "12:01",
    ]
    assert messages[2]["sender_name"] == "Alice"
    assert messages[2]["message"] == "Hi!"
    assert {m["chat_id"] for m in messages} == {first}


def test_import_and_single_writes_derive_the_same_fields(api: ChatApi, room_id: str) -> None:
    script = [
        _msg(9, "visitor"),
        _msg(4, "user", "autosuggest"),
        _msg(6, "user"),
        _msg(2, "user", "join"),
        _msg(8, "visitor"),
        _msg(7, "user"),
    ]
    response = api.import_ndjson(room_id, _line(messages=script))
    assert response.status_code == 201, response.text
    imported = _stored_chats(api, room_id)[0]
    single = api.chat(room_id)
    for message in script:
        api.message(room_id, single["id"], **message)
    written = api.get(f"{api.chats(room_id)}/{single['id']}")
    derived = (
        "message_count",
        "user_message_count",
        "visitor_message_count",
        "is_real_conversation",
        "is_autosuggested",
        "is_waiting",
        "is_ended",
    )
    assert {k: imported[k] for k in derived} == {k: written[k] for k in derived}
    assert imported["is_waiting"] is True
    assert imported["is_autosuggested"] is False  # the join at :02 came first


def test_a_bad_line_stores_nothing_and_every_bad_line_is_listed(api: ChatApi, room_id: str) -> None:
    good = _line(messages=[_msg(1)])
    body = "\n".join(
        [
            good,
            "{not json",
            "",
            _line(messages=[_msg(1), _msg(2, "system"), _msg(3, type_="reporting_card")]),
            good,
            '["a list"]',
            _line(created_at="2024-03-01T12:00:00Z", ended_at="2024-03-01T11:00:00Z"),
            _line(message_count=4, messages=[{**_msg(1), "attachments": {}}]),
            good,
        ]
    )
    response = api.import_ndjson(room_id, body)
    assert response.status_code == 400
    payload = response.json()
    assert payload["code"] == "invalid"
    assert "nothing was imported" in payload["detail"]
    assert [e["loc"] for e in payload["errors"]] == [
        ["body", 2],
        ["body", 4, "messages", 1, "sender_type"],
        ["body", 4, "messages", 2, "type"],
        ["body", 6],
        ["body", 7, "ended_at"],
        ["body", 8, "message_count"],
        ["body", 8, "messages", 0, "attachments"],
    ]
    msgs = [e["msg"] for e in payload["errors"]]
    assert msgs[0] == "This line is not valid JSON."
    assert msgs[3] == "Each line must be one JSON object: a chat with its messages."
    assert msgs[5] == msgs[6] == "This field is read-only."
    assert _stored_chats(api, room_id) == []


def test_a_bad_line_after_many_batches_stores_nothing(
    api: ChatApi, room_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(imports, "BATCH_ROWS", 10)
    lines = [_line(messages=[_msg(1), _msg(2, "user")]) for _ in range(30)]
    lines.append(_line(messages=[_msg(1, type_="reporting_card")]))
    response = api.import_ndjson(room_id, "\n".join(lines))
    assert response.status_code == 400
    assert [e["loc"] for e in response.json()["errors"]] == [["body", 31, "messages", 0, "type"]]
    assert _stored_chats(api, room_id) == []


def test_duplicate_ids_are_reported_by_line(api: ChatApi, room_id: str) -> None:
    existing = api.chat(room_id)["id"]
    repeated = str(uuid.uuid4())
    body = "\n".join(
        [
            _line(id=repeated),
            _line(id=existing),
            _line(id=str(uuid.uuid4())),
            _line(id=repeated),
        ]
    )
    response = api.import_ndjson(room_id, body)
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"loc": ["body", 2, "id"], "msg": "A chat with this id already exists."},
        {"loc": ["body", 4, "id"], "msg": "Line 1 has the same id."},
    ]
    assert [c["id"] for c in _stored_chats(api, room_id)] == [existing]


def test_reimporting_the_same_file_is_refused(api: ChatApi, room_id: str) -> None:
    body = _line(id=str(uuid.uuid4()), messages=[_msg(1)])
    assert api.import_ndjson(room_id, body).status_code == 201
    again = api.import_ndjson(room_id, body)
    assert again.status_code == 400
    assert again.json()["errors"][0]["loc"] == ["body", 1, "id"]
    assert len(_stored_chats(api, room_id)) == 1


def test_empty_import_is_400(api: ChatApi, room_id: str) -> None:
    response = api.import_ndjson(room_id, "\n \n")
    assert response.status_code == 400
    assert response.json()["errors"][0]["loc"] == ["body"]


def test_too_many_chats_is_413(api: ChatApi, room_id: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(imports, "MAX_CHATS", 3)
    response = api.import_ndjson(room_id, "\n".join([_line()] * 4))
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"
    assert "at most 3 chats" in response.json()["detail"]
    assert _stored_chats(api, room_id) == []
    assert api.import_ndjson(room_id, "\n".join([_line()] * 3)).status_code == 201


def test_import_into_another_organisations_room_is_404(
    api: ChatApi, room_id: str, new_tenant: Any
) -> None:
    other = ChatApi(api.client, new_tenant())
    response = other.import_ndjson(room_id, _line())
    assert response.status_code == 404
    assert _stored_chats(api, room_id) == []


def test_import_of_a_realistic_size(api: ChatApi, room_id: str) -> None:
    rng = random.Random(7)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    lines, msg_total, chats = [], 0, 500
    for index in range(chats):
        created = start + timedelta(hours=index)
        messages = []
        for n in range(10):
            kind = rng.choice(["msg", "msg", "msg", "autosuggest", "join"])
            msg_total += kind == "msg"
            at = created + timedelta(seconds=rng.randint(0, 3600))
            messages.append(
                {
                    "type": kind,
                    "sender_type": "visitor" if n % 2 else "user",
                    "created_at": at.isoformat(),
                    "message": "word " * rng.randint(1, 50),
                }
            )
        lines.append(json.dumps({"created_at": created.isoformat(), "messages": messages}))
    response = api.import_ndjson(room_id, "\n".join(lines))
    assert response.status_code == 201, response.text
    assert response.json() == {"chats": chats, "messages": 5000}
    stored = _stored_chats(api, room_id)
    assert len(stored) == chats
    assert sum(c["message_count"] for c in stored) == msg_total
    assert sum(c["user_message_count"] + c["visitor_message_count"] for c in stored) == msg_total


def test_windows_line_ends_and_a_byte_order_mark_are_accepted(api: ChatApi, room_id: str) -> None:
    body = "\ufeff" + "\r\n".join([_line(messages=[_msg(1)]), "", _line()]) + "\r\n"
    response = api.import_ndjson(room_id, body.encode())
    assert response.status_code == 201, response.text
    assert response.json() == {"chats": 2, "messages": 1}


def test_the_list_of_errors_is_capped(
    api: ChatApi, room_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(imports, "MAX_LISTED_ERRORS", 2)
    response = api.import_ndjson(room_id, "\n".join(["{"] * 3))
    assert response.status_code == 400
    payload = response.json()
    assert [e["loc"] for e in payload["errors"]] == [["body", 1], ["body", 2]]
    assert payload["detail"].startswith("3 lines are invalid; nothing was imported.")
    assert "first 2 errors" in payload["detail"]
