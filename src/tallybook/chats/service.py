from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tallybook.auth.principal import Principal
from tallybook.chats import imports, repository
from tallybook.chats.models import Chat, ChatMessage, Room
from tallybook.chats.schemas import ChatCreate, MessageCreate, RoomCreate
from tallybook.chats.types import MessageType, SenderType
from tallybook.kit.db import utcnow
from tallybook.kit.errors import NotFound, invalid
from tallybook.kit.pagination import PageParams

Page = repository.Page


def list_rooms(session: Session, principal: Principal, params: PageParams) -> Page:
    return repository.list_rooms(session, principal.organization_id, params)


def get_room(session: Session, principal: Principal, room_id: uuid.UUID) -> Room:
    room = repository.get_room(session, principal.organization_id, room_id)
    if room is None:
        raise NotFound("No such room in this organisation.")
    return room


def create_room(session: Session, principal: Principal, data: RoomCreate) -> Room:
    room = Room(organization_id=principal.organization_id, **data.provided())
    session.add(room)
    session.flush()
    return room


def list_chats(
    session: Session,
    principal: Principal,
    room_id: uuid.UUID,
    params: PageParams,
    *,
    is_waiting: bool | None,
    is_ended: bool | None,
) -> Page:
    get_room(session, principal, room_id)
    return repository.list_chats(
        session,
        principal.organization_id,
        room_id,
        params,
        is_waiting=is_waiting,
        is_ended=is_ended,
    )


def get_chat(
    session: Session, principal: Principal, room_id: uuid.UUID, chat_id: uuid.UUID
) -> Chat:
    chat = repository.get_chat(session, principal.organization_id, chat_id, room_id)
    if chat is None:
        raise NotFound("No such chat in this room.")
    return chat


def create_chat(
    session: Session, principal: Principal, room_id: uuid.UUID, data: ChatCreate
) -> Chat:
    room = get_room(session, principal, room_id)
    if data.id is not None and repository.existing_chat_ids(
        session, principal.organization_id, [data.id]
    ):
        raise invalid(["id"], imports.DUPLICATE_ID)
    chat = Chat(organization_id=principal.organization_id, room=room, **data.columns())
    session.add(chat)
    try:
        session.flush()
    except IntegrityError:
        # The same id written by a concurrent request of this organisation.
        raise invalid(["id"], imports.DUPLICATE_ID) from None
    return chat


def list_messages(
    session: Session,
    principal: Principal,
    room_id: uuid.UUID,
    chat_id: uuid.UUID,
    params: PageParams,
) -> Page:
    get_chat(session, principal, room_id, chat_id)
    return repository.list_messages(session, principal.organization_id, chat_id, params)


def create_message(
    session: Session,
    principal: Principal,
    room_id: uuid.UUID,
    chat_id: uuid.UUID,
    data: MessageCreate,
) -> ChatMessage:
    chat = get_chat(session, principal, room_id, chat_id)
    message = ChatMessage(organization_id=chat.organization_id, chat_id=chat.id, **data.provided())
    session.add(message)
    session.flush()
    repository.count_message(
        session,
        chat.organization_id,
        chat.id,
        type_=message.type,
        sender_type=message.sender_type,
        created_at=message.created_at,
    )
    session.expire(chat)
    return message


def add_system_message(
    session: Session,
    chat: Chat,
    *,
    message: str,
    attachments: dict[str, Any],
    created_at: datetime | None = None,
) -> ChatMessage:
    """A ``reporting_card`` from Tallybook itself; it leaves the chat's counters alone."""
    row = ChatMessage(
        organization_id=chat.organization_id,
        chat_id=chat.id,
        type=MessageType.REPORTING_CARD,
        sender_type=SenderType.SYSTEM,
        message=message,
        attachments=attachments,
        created_at=created_at or utcnow(),
    )
    session.add(row)
    session.flush()
    return row


def import_chats(
    session: Session, principal: Principal, room_id: uuid.UUID, body: bytes
) -> dict[str, int]:
    room = get_room(session, principal, room_id)
    return imports.import_ndjson(session, room, body)
