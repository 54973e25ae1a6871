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
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, and_, func, select, type_coerce
from sqlalchemy.orm import Session
from sqlalchemy.types import NullType

from tallybook.chats.models import Chat, ChatMessage
from tallybook.kit.tabular.cells import iso_utc

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


Instant = datetime | str  # see ``log_rows``: a datetime, or the API's text
LogRow = tuple[
    str, Instant, Instant | None, Instant | None, str | None, str | None, str | None, str | None
]


def log_query(spec: LogSpec) -> Select[*tuple[Any, ...]]:
    on_chat = and_(
        ChatMessage.organization_id == Chat.organization_id, ChatMessage.chat_id == Chat.id
    )
    stmt: Select[*tuple[Any, ...]] = (
        select(
            _raw(Chat.id),
            _raw(Chat.created_at),
            _raw(Chat.ended_at),
            _raw(ChatMessage.created_at),
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


def _raw(column: Any) -> Any:
    """The column as the driver returns it, without SQLAlchemy's per-row conversion: the
    id and times are converted below, the chat's once per chat rather than per message."""
    return type_coerce(column, NullType())


def log_rows(
    session: Session, spec: LogSpec, batch_rows: int, *, times_as_text: bool = False
) -> Iterator[LogRow]:
    """The export's rows, fetched ``batch_rows`` at a time (a server-side cursor on
    PostgreSQL); close it to end the query.

    Times are UTC datetimes without a zone (what ``kit.tabular`` writes as date cells
    with no conversion), or with ``times_as_text`` the API's text
    (``2021-04-01T10:10:57.242Z``), which is what a CSV or a transcript holds: made here
    once per chat rather than by the writer for every message.
    """
    time = _text if times_as_text else _wall_clock
    statement = log_query(spec).execution_options(yield_per=batch_rows)
    result = session.connection().execute(statement)
    last: Any = object()
    chat: tuple[Any, ...] = ()
    try:
        for raw_id, created, ended, at, *message in result:
            if raw_id != last:
                last, chat = raw_id, (_chat_id(raw_id), time(created), time(ended))
            yield (*chat, time(at), *message)
    finally:
        result.close()


def _chat_id(raw: Any) -> str:
    """SQLite stores a UUID as 32 hex digits; PostgreSQL's driver returns a UUID."""
    return str(uuid.UUID(hex=raw) if isinstance(raw, str) else raw)


def _instant(raw: Any) -> datetime:
    """SQLite stores a UTC time as naive ISO text; PostgreSQL's driver returns an aware
    datetime (in the session's zone)."""
    value: datetime = datetime.fromisoformat(raw) if isinstance(raw, str) else raw
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value if value.tzinfo is UTC else value.astimezone(UTC)


def _wall_clock(raw: Any) -> datetime | None:
    """The UTC date and time without a zone; SQLite's stored text is just that."""
    if raw is None:
        return None
    if isinstance(raw, str):
        return datetime.fromisoformat(raw)
    value: datetime = raw
    return value if value.tzinfo is None else value.astimezone(UTC).replace(tzinfo=None)


def _text(raw: Any) -> str | None:
    """``2021-04-01T10:10:57.242Z``; SQLite's stored text (``2021-04-01 10:10:57.242000``,
    UTC) is cut into shape without a datetime in between."""
    if raw is None:
        return None
    if isinstance(raw, datetime):
        return iso_utc(raw)  # in UTC, naive or not
    if len(raw) == _STORED_LENGTH and raw[10] == " ":
        return f"{raw[:10]}T{raw[11:23]}Z"
    return iso_utc(_instant(raw))


_STORED_LENGTH = len("2021-04-01 10:10:57.242000")
