from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, status
from pydantic import BeforeValidator

from tallybook.auth.dependencies import ChatReader, SettingsUser
from tallybook.chats import service
from tallybook.chats.imports import MAX_CHATS
from tallybook.chats.schemas import (
    Chat,
    ChatCreate,
    ImportResult,
    Message,
    MessageCreate,
    Room,
    RoomCreate,
)
from tallybook.kit.body import json_body, read_body
from tallybook.kit.db import DBSession
from tallybook.kit.errors import error_responses
from tallybook.kit.ids import parse_id
from tallybook.kit.openapi import raw_json_body
from tallybook.kit.pagination import CursorPage, PageQuery, page_body

router = APIRouter(
    prefix="/api/v5/orgs/{org_id}/rooms",
    tags=["Chats: rooms, chats and messages"],
    responses=error_responses(400, 401, 403, 404),
)

Page = PageQuery


NDJSON = frozenset({"application/x-ndjson", "application/jsonl", "application/json", "text/plain"})
"""What an NDJSON import may be sent as (none at all is taken too)."""


async def _raw_body(request: Request) -> bytes:
    return await read_body(request, NDJSON)


RawBody = Annotated[bytes, Depends(_raw_body)]


@router.get("", response_model=CursorPage[Room], summary="List rooms, newest first")
def list_rooms(session: DBSession, principal: ChatReader, page: Page) -> object:
    return page_body(service.list_rooms(session, principal, page))


@router.post(
    "",
    response_model=Room,
    status_code=status.HTTP_201_CREATED,
    summary="Create a room",
    openapi_extra=raw_json_body(RoomCreate),
)
def create_room(
    session: DBSession, principal: SettingsUser, data: Annotated[RoomCreate, json_body(RoomCreate)]
) -> object:
    return service.create_room(session, principal, data)


@router.get("/{room_id}", response_model=Room, summary="Get a room")
def get_room(session: DBSession, principal: ChatReader, room_id: str) -> object:
    return service.get_room(session, principal, parse_id(room_id, "room"))


def _blank_is_none(value: object) -> object:
    """``?is_waiting=`` with no value filters nothing, as django-filter (giosg's API) reads
    an empty parameter."""
    return None if value == "" else value


@router.get(
    "/{room_id}/chats",
    response_model=CursorPage[Chat],
    summary="List the chats of a room, newest first",
)
def list_chats(
    session: DBSession,
    principal: ChatReader,
    room_id: str,
    page: Page,
    is_waiting: Annotated[bool | None, BeforeValidator(_blank_is_none), Query()] = None,
    is_ended: Annotated[bool | None, BeforeValidator(_blank_is_none), Query()] = None,
) -> object:
    return page_body(
        service.list_chats(
            session,
            principal,
            parse_id(room_id, "room"),
            page,
            is_waiting=is_waiting,
            is_ended=is_ended,
        )
    )


@router.post(
    "/{room_id}/chats",
    response_model=Chat,
    status_code=status.HTTP_201_CREATED,
    summary="Create a chat (history import: explicit created_at and ended_at)",
    openapi_extra=raw_json_body(ChatCreate),
)
def create_chat(
    session: DBSession,
    principal: SettingsUser,
    room_id: str,
    data: Annotated[ChatCreate, json_body(ChatCreate)],
) -> object:
    return service.create_chat(session, principal, parse_id(room_id, "room"), data)


@router.post(
    "/{room_id}/chats/import",
    response_model=ImportResult,
    status_code=status.HTTP_201_CREATED,
    summary="Import chats with their messages from NDJSON, all or nothing",
    description=(
        "One chat per line (the fields of *Create a chat*) with its `messages` list inline "
        "(the fields of *Create a message*); blank lines are ignored. Sent as "
        "`application/x-ndjson` (or `application/jsonl`, `application/json`, `text/plain`). "
        f"At most {MAX_CHATS:,} chats per request. If any line is invalid "
        "nothing is stored and the 400 lists the errors with `loc` "
        '`["body", <line number from 1>, ...field path]`.'
    ),
    responses=error_responses(413, 415),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/x-ndjson": {"schema": {"type": "string"}}},
        }
    },
)
def import_chats(
    session: DBSession, principal: SettingsUser, room_id: str, body: RawBody
) -> object:
    return service.import_chats(session, principal, parse_id(room_id, "room"), body)


@router.get("/{room_id}/chats/{chat_id}", response_model=Chat, summary="Get a chat")
def get_chat(session: DBSession, principal: ChatReader, room_id: str, chat_id: str) -> object:
    return service.get_chat(
        session, principal, parse_id(room_id, "room"), parse_id(chat_id, "chat")
    )


@router.get(
    "/{room_id}/chats/{chat_id}/messages",
    response_model=CursorPage[Message],
    summary="List the messages of a chat, newest first",
)
def list_messages(
    session: DBSession, principal: ChatReader, room_id: str, chat_id: str, page: Page
) -> object:
    return page_body(
        service.list_messages(
            session, principal, parse_id(room_id, "room"), parse_id(chat_id, "chat"), page
        )
    )


@router.post(
    "/{room_id}/chats/{chat_id}/messages",
    response_model=Message,
    status_code=status.HTTP_201_CREATED,
    summary="Add a message to a chat (explicit created_at)",
    openapi_extra=raw_json_body(MessageCreate),
)
def create_message(
    session: DBSession,
    principal: SettingsUser,
    room_id: str,
    chat_id: str,
    data: Annotated[MessageCreate, json_body(MessageCreate)],
) -> object:
    return service.create_message(
        session, principal, parse_id(room_id, "room"), parse_id(chat_id, "chat"), data
    )
