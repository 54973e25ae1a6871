from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    Select,
    SQLColumnExpression,
    Table,
    case,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session

from tallybook.chats.models import Chat, ChatMessage, Room
from tallybook.chats.types import MessageType, SenderType
from tallybook.kit.db import UTCDateTime, utcnow
from tallybook.kit.pagination import PageParams, PageResult, paginate

Page = PageResult

# SQLite allows 32,766 bound parameters per statement; 500 ids stay far below on any version.
_ID_CHUNK = 500

_CHATS = cast(Table, Chat.__table__)
_MESSAGES = cast(Table, ChatMessage.__table__)


def list_rooms(session: Session, organization_id: uuid.UUID, params: PageParams) -> Page:
    stmt = select(Room).where(Room.organization_id == organization_id)
    return paginate(session, stmt, Room.created_at, Room.id, params)


def get_room(session: Session, organization_id: uuid.UUID, room_id: uuid.UUID) -> Room | None:
    stmt = select(Room).where(Room.organization_id == organization_id, Room.id == room_id)
    return session.scalars(stmt).one_or_none()


def list_chats(
    session: Session,
    organization_id: uuid.UUID,
    room_id: uuid.UUID,
    params: PageParams,
    *,
    is_waiting: bool | None = None,
    is_ended: bool | None = None,
) -> Page:
    stmt = select(Chat).where(Chat.organization_id == organization_id, Chat.room_id == room_id)
    stmt = _flag(stmt, Chat.is_waiting, is_waiting)
    stmt = _flag(stmt, Chat.is_ended, is_ended)
    return paginate(session, stmt, Chat.created_at, Chat.id, params)


def _flag(
    stmt: Select[Chat], expression: SQLColumnExpression[bool], wanted: bool | None
) -> Select[Chat]:
    if wanted is None:
        return stmt
    return stmt.where(expression if wanted else ~expression)


def get_chat(
    session: Session,
    organization_id: uuid.UUID,
    chat_id: uuid.UUID,
    room_id: uuid.UUID | None = None,
) -> Chat | None:
    stmt = select(Chat).where(Chat.organization_id == organization_id, Chat.id == chat_id)
    if room_id is not None:
        stmt = stmt.where(Chat.room_id == room_id)
    return session.scalars(stmt).one_or_none()


def get_chat_by_pk(session: Session, organization_id: uuid.UUID, pk: uuid.UUID) -> Chat | None:
    """A chat by its row key (what the BAR notification setting stores)."""
    stmt = select(Chat).where(Chat.organization_id == organization_id, Chat.pk == pk)
    return session.scalars(stmt).one_or_none()


def list_messages(
    session: Session, organization_id: uuid.UUID, chat_id: uuid.UUID, params: PageParams
) -> Page:
    stmt = select(ChatMessage).where(
        ChatMessage.organization_id == organization_id, ChatMessage.chat_id == chat_id
    )
    return paginate(session, stmt, ChatMessage.created_at, ChatMessage.id, params)


def existing_chat_ids(
    session: Session, organization_id: uuid.UUID, ids: Iterable[uuid.UUID]
) -> set[uuid.UUID]:
    """Which of these ids the organisation's chats already have.

    Chat ids are unique per organisation, so another organisation's chats are never
    looked at: an id taken there is no conflict here, and nothing about it is revealed.
    """
    wanted = list(ids)
    found: set[uuid.UUID] = set()
    for start in range(0, len(wanted), _ID_CHUNK):
        chunk = wanted[start : start + _ID_CHUNK]
        stmt = select(Chat.id).where(Chat.organization_id == organization_id, Chat.id.in_(chunk))
        found.update(session.scalars(stmt))
    return found


def insert_chats(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Core executemany: one statement for many rows, no ORM bookkeeping."""
    if rows:
        session.execute(insert(_CHATS), rows)


def insert_messages(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        session.execute(insert(_MESSAGES), rows)


def count_message(
    session: Session,
    organization_id: uuid.UUID,
    chat_id: uuid.UUID,
    *,
    type_: str,
    sender_type: str,
    created_at: datetime,
) -> None:
    """Folds one new message into the chat's stored counters in a single UPDATE.

    Done in SQL rather than read-modify-write in Python so that two messages written at
    once cannot lose an increment (SQLite's driver reads outside the write transaction,
    so a SELECT … FOR UPDATE would not protect it). The rules are those of ChatCounters.
    """
    at = literal(created_at, UTCDateTime())
    is_first = or_(Chat.first_message_at.is_(None), Chat.first_message_at > at)
    values: dict[Any, Any] = {
        Chat.first_message_at: case((is_first, at), else_=Chat.first_message_at),
        Chat.first_message_type: case((is_first, type_), else_=Chat.first_message_type),
        Chat.updated_at: utcnow(),
    }
    if type_ == MessageType.MSG:
        is_last = or_(Chat.last_msg_at.is_(None), Chat.last_msg_at <= at)
        values |= {
            Chat.message_count: Chat.message_count + 1,
            Chat.last_msg_at: case((is_last, at), else_=Chat.last_msg_at),
            Chat.last_msg_sender_type: case(
                (is_last, sender_type), else_=Chat.last_msg_sender_type
            ),
        }
        if sender_type == SenderType.USER:
            values[Chat.user_message_count] = Chat.user_message_count + 1
        elif sender_type == SenderType.VISITOR:
            values[Chat.visitor_message_count] = Chat.visitor_message_count + 1
    stmt = (
        update(Chat)
        .where(Chat.organization_id == organization_id, Chat.id == chat_id)
        .values(values)
        .execution_options(synchronize_session=False)
    )
    session.execute(stmt)
