"""Chat ids are per organisation: an id taken in another organisation is no conflict and
reveals nothing; each organisation sees, writes to and notifies only its own chat."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import delete

from tallybook.chats.models import Room
from tallybook.kit.db import Database
from tests.chats.factories import ChatApi
from tests.fixtures.tenants import Tenant
from tests.notifications.factories import TargetPath, create, make_target

DUPLICATE = {"loc": ["body", "id"], "msg": "A chat with this id already exists."}


def _line(chat_id: str, *messages: str) -> str:
    return json.dumps(
        {
            "id": chat_id,
            "created_at": "2024-03-01T12:00:00Z",
            "messages": [
                {"sender_type": "visitor", "created_at": "2024-03-01T12:01:00Z", "message": m}
                for m in messages
            ],
        }
    )


def _chats(api: ChatApi, room_id: str) -> list[dict[str, Any]]:
    return list(api.get(api.chats(room_id), page_size=1000)["results"])


def _texts(api: ChatApi, room_id: str, chat_id: str) -> list[str]:
    return [m["message"] for m in api.get(api.messages(room_id, chat_id))["results"]]


def _other(client: TestClient, new_tenant: Callable[..., Tenant]) -> tuple[ChatApi, str]:
    other = ChatApi(client, new_tenant())
    return other, str(other.room(name="Elsewhere")["id"])


def test_another_organisations_chat_id_can_be_created(
    client: TestClient, api: ChatApi, room_id: str, new_tenant: Callable[..., Tenant]
) -> None:
    chat_id = str(uuid.uuid4())
    mine = api.chat(room_id, id=chat_id, tag_count=1)
    other, other_room = _other(client, new_tenant)

    theirs = other.chat(other_room, id=chat_id, tag_count=2)

    assert theirs["id"] == chat_id
    assert theirs["organization_id"] == str(other.tenant.org_id)
    assert (theirs["room_id"], theirs["room_name"], theirs["tag_count"]) == (
        other_room,
        "Elsewhere",
        2,
    )
    assert _chats(api, room_id) == [mine]
    assert _chats(other, other_room) == [theirs]
    assert api.get(f"{api.chats(room_id)}/{chat_id}") == mine
    assert other.get(f"{other.chats(other_room)}/{chat_id}") == theirs
    # Still no way into the other organisation's room or chat.
    api.get(f"{api.chats(other_room)}/{chat_id}", status=404)
    other.get(f"{other.chats(room_id)}/{chat_id}", status=404)

    api.message(room_id, chat_id, message="mine")
    other.message(other_room, chat_id, message="theirs", sender_type="user")
    other.message(other_room, chat_id, message="theirs again", sender_type="user")
    assert _texts(api, room_id, chat_id) == ["mine"]
    assert sorted(_texts(other, other_room, chat_id)) == ["theirs", "theirs again"]
    mine_now = api.get(f"{api.chats(room_id)}/{chat_id}")
    theirs_now = other.get(f"{other.chats(other_room)}/{chat_id}")
    assert (mine_now["message_count"], mine_now["visitor_message_count"]) == (1, 1)
    assert (theirs_now["message_count"], theirs_now["user_message_count"]) == (2, 2)
    assert theirs_now["visitor_message_count"] == 0


def test_an_id_taken_in_ones_own_organisation_is_still_refused(
    client: TestClient, api: ChatApi, room_id: str, new_tenant: Callable[..., Tenant]
) -> None:
    chat_id = str(uuid.uuid4())
    other, other_room = _other(client, new_tenant)
    other.chat(other_room, id=chat_id)
    api.chat(room_id, id=chat_id)

    for own_room in (room_id, str(api.room(name="Second")["id"])):
        body = api.post(
            api.chats(own_room), {"id": chat_id, "created_at": "2024-03-01T12:00:00Z"}, status=400
        )
        assert body["errors"] == [DUPLICATE]
    body = other.post(
        other.chats(other_room), {"id": chat_id, "created_at": "2024-03-01T12:00:00Z"}, status=400
    )
    assert body["errors"] == [DUPLICATE]
    assert len(_chats(api, room_id)) == 1
    assert len(_chats(other, other_room)) == 1


def test_import_takes_ids_of_another_organisation(
    client: TestClient, api: ChatApi, room_id: str, new_tenant: Callable[..., Tenant]
) -> None:
    taken, fresh = str(uuid.uuid4()), str(uuid.uuid4())
    api.chat(room_id, id=taken)
    other, other_room = _other(client, new_tenant)

    response = other.import_ndjson(
        other_room, "\n".join([_line(taken, "one", "two"), _line(fresh, "three")])
    )

    assert response.status_code == 201, response.text
    assert response.json() == {"chats": 2, "messages": 3}
    assert sorted(c["id"] for c in _chats(other, other_room)) == sorted([taken, fresh])
    assert [c["id"] for c in _chats(api, room_id)] == [taken]
    assert sorted(_texts(other, other_room, taken)) == ["one", "two"]
    assert _texts(api, room_id, taken) == []
    assert other.get(f"{other.chats(other_room)}/{taken}")["message_count"] == 2
    assert api.get(f"{api.chats(room_id)}/{taken}")["message_count"] == 0

    # The first organisation may import the other's fresh id as well.
    assert api.import_ndjson(room_id, _line(fresh, "four")).status_code == 201
    assert _texts(api, room_id, fresh) == ["four"]
    assert _texts(other, other_room, fresh) == ["three"]


def test_import_still_refuses_ones_own_ids_by_line(
    client: TestClient, api: ChatApi, room_id: str, new_tenant: Callable[..., Tenant]
) -> None:
    mine, theirs = str(uuid.uuid4()), str(uuid.uuid4())
    api.chat(room_id, id=mine)
    other, other_room = _other(client, new_tenant)
    other.chat(other_room, id=theirs)

    response = api.import_ndjson(
        room_id, "\n".join([_line(theirs), _line(mine), _line(str(uuid.uuid4()))])
    )

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"loc": ["body", 2, "id"], "msg": "A chat with this id already exists."}
    ]
    assert [c["id"] for c in _chats(api, room_id)] == [mine]  # all or nothing
    assert [c["id"] for c in _chats(other, other_room)] == [theirs]


def test_bar_settings_name_the_chat_of_their_own_organisation(
    client: TestClient,
    database: Database,
    api: ChatApi,
    room_id: str,
    new_tenant: Callable[..., Tenant],
) -> None:
    chat_id = str(uuid.uuid4())
    api.chat(room_id, id=chat_id)
    other, other_room = _other(client, new_tenant)
    other.chat(other_room, id=chat_id)
    mine = make_target(client, api.tenant)
    theirs = make_target(client, other.tenant)

    my_setting = create(client, mine, "bar", {"channel_id": chat_id, "name": "mine"})
    their_setting = create(client, theirs, "bar", {"channel_id": chat_id, "name": "theirs"})

    assert my_setting["channel_id"] == their_setting["channel_id"] == chat_id

    def setting(target: TargetPath, made: dict[str, Any]) -> dict[str, Any]:
        response = client.get(target.kind("bar", made["id"]), headers=target.headers)
        assert response.status_code == 200, response.text
        return dict(response.json())

    # Deleting one organisation's chat (with its room) clears only its own setting.
    with database.unit_of_work() as session:
        session.execute(delete(Room).where(Room.id == uuid.UUID(other_room)))
    assert setting(theirs, their_setting)["channel_id"] is None
    assert setting(mine, my_setting)["channel_id"] == chat_id
    assert [c["id"] for c in _chats(api, room_id)] == [chat_id]
