"""The rows of a ``logs`` export: the room's chats created in [starting_at, ending_at),
filtered, with their messages, in chat then message order, read with a server-side
cursor in batches (``yield_per``) so that memory does not grow with the export.

A chat without messages still has one row, with empty message cells, so that every chat
the filters let through is in the file.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, func, select
from sqlalchemy.orm import Session

from tallybook.chats.models import Chat, ChatMessage

HEADER = (
    "chat_id",
    "chat_created_at",
    "chat_ended_at",
    "message_created_at",
    "sender_type",
    "sender_name",
    "message_type",
    "message",
)
"""The columns of a csv or xlsx logs export; times are UTC."""


@dataclass(frozen=True)
class LogSpec:
    organization_id: uuid.UUID
    room_id: uuid.UUID
    starting_at: datetime
    ending_at: datetime
    is_real_conversation: bool | None
    min_message_count: int


LogRow = tuple[
    str, datetime, datetime | None, datetime | None, str | None, str | None, str | None, str | None
]


def log_query(spec: LogSpec) -> Select[*tuple[Any, ...]]:
    on_chat = and_(
        ChatMessage.organization_id == Chat.organization_id, ChatMessage.chat_id == Chat.id
    )
    stmt: Select[*tuple[Any, ...]] = (
        select(
            Chat.id,
            Chat.created_at,
            Chat.ended_at,
            ChatMessage.created_at,
            ChatMessage.sender_type,
            func.coalesce(ChatMessage.sender_name, ChatMessage.sender_public_name),
            ChatMessage.type,
            ChatMessage.message,
        )
        .select_from(Chat)
        .outerjoin(ChatMessage, on_chat)
        .where(
            Chat.organization_id == spec.organization_id,
            Chat.room_id == spec.room_id,
            Chat.created_at >= spec.starting_at,
            Chat.created_at < spec.ending_at,
        )
        .order_by(Chat.created_at, Chat.id, ChatMessage.created_at, ChatMessage.id)
    )
    # The derived flags and counters chats/ keeps on each chat (DESIGN §8).
    if spec.is_real_conversation is not None:
        real = Chat.is_real_conversation
        stmt = stmt.where(real if spec.is_real_conversation else ~real)
    if spec.min_message_count > 0:
        stmt = stmt.where(Chat.message_count >= spec.min_message_count)
    return stmt


def log_rows(session: Session, spec: LogSpec, batch_rows: int) -> Iterator[LogRow]:
    """The export's rows, fetched ``batch_rows`` at a time; close it to end the query."""
    result = session.execute(log_query(spec).execution_options(yield_per=batch_rows))
    try:
        for chat_id, *rest in result:
            yield (str(chat_id), *rest)
    finally:
        result.close()
