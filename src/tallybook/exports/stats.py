"""The rows of a ``stats`` export: one per day of [starting_at, ending_at) in the
organisation's time zone with giosg's daily chat statistics of the room, then a totals row
(reference: giosg's ``visitorchatstats/daily``).

Every number is about the room's visitor chats (``chat_type`` visitor) created in the
day, and is computed from what chats/ keeps on each chat (message counters,
``is_real_conversation``, ``is_autosuggested``), plus two facts read from its messages:

- *the visitor* of a chat: the ``sender_id`` of its first visitor message that has one,
  else the chat itself (a visitor who never wrote, or wrote anonymously);
- *who started it*: the sender of its first ``msg``.

Each day is one aggregate query (counted and deduplicated by the database), and the totals
row one more over the whole range, so memory holds one row whatever the number of chats;
distinct visitors in the totals are distinct over the range, not a sum of the days. Days
before the range's first chat or after its last are zeros without a query.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, String, and_, case, cast, distinct, func, literal, select
from sqlalchemy.orm import Session

from tallybook.chats.models import Chat, ChatMessage
from tallybook.chats.types import ChatType, MessageType, SenderType

COLUMNS = (
    "visitors_with_conversation_count",
    "visitors_with_chat_count",
    "visitors_affected_by_chat_count",
    "visitors_autosuggested_count",
    "conversation_count",
    "chats_from_autosuggest_count",
    "chats_from_user_count",
    "chats_from_visitor_count",
    "visitor_message_count",
    "user_message_count",
    "missed_chat_count",
)
HEADER = ("date", *COLUMNS)
TOTAL_LABEL = "total"


@dataclass(frozen=True)
class StatsSpec:
    organization_id: uuid.UUID
    room_id: uuid.UUID
    starting_at: datetime
    ending_at: datetime
    timezone: str


@dataclass(frozen=True)
class Day:
    date: date
    start: datetime  # UTC, inclusive
    end: datetime  # UTC, exclusive


def days(start: datetime, end: datetime, zone: ZoneInfo) -> Iterator[Day]:
    """The local days [start, end) touches, each cut to the range, in UTC."""
    local = start.astimezone(zone).date()
    while True:
        day_start = max(start, _midnight(local, zone))
        if day_start >= end:
            return
        following = local + timedelta(days=1)
        yield Day(local, day_start, min(end, _midnight(following, zone)))
        local = following


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)


def stats_rows(session: Session, spec: StatsSpec) -> Iterator[tuple[Any, ...]]:
    zone = ZoneInfo(spec.timezone)
    first, last = _first_and_last(session, spec)
    zeros = (0,) * len(COLUMNS)
    for day in days(spec.starting_at, spec.ending_at, zone):
        busy = first is not None and last is not None and day.end > first and day.start <= last
        values = _measure(session, spec, day.start, day.end) if busy else zeros
        yield (day.date.isoformat(), *values)
    totals = _measure(session, spec, spec.starting_at, spec.ending_at) if first else zeros
    yield (TOTAL_LABEL, *totals)


def _in_range(spec: StatsSpec, start: datetime, end: datetime) -> list[ColumnElement[bool]]:
    return [
        Chat.organization_id == spec.organization_id,
        Chat.room_id == spec.room_id,
        Chat.chat_type == ChatType.VISITOR,
        Chat.created_at >= start,
        Chat.created_at < end,
    ]


def _first_and_last(session: Session, spec: StatsSpec) -> tuple[datetime | None, datetime | None]:
    where = _in_range(spec, spec.starting_at, spec.ending_at)
    first, last = session.execute(
        select(func.min(Chat.created_at), func.max(Chat.created_at)).where(*where)
    ).one()
    return _utc(first), _utc(last)


def _utc(value: Any) -> datetime | None:
    """SQLite answers a min/max of timestamps as text; PostgreSQL as a datetime."""
    if value is None:
        return None
    instant: datetime = datetime.fromisoformat(value) if isinstance(value, str) else value
    return instant.replace(tzinfo=UTC) if instant.tzinfo is None else instant.astimezone(UTC)


def _first_message(column: Any, *where: ColumnElement[bool]) -> Any:
    """A scalar subquery: ``column`` of the chat's earliest message matching ``where``."""
    return (
        select(column)
        .where(
            ChatMessage.organization_id == Chat.organization_id,
            ChatMessage.chat_id == Chat.id,
            *where,
        )
        .order_by(ChatMessage.created_at, ChatMessage.id)
        .limit(1)
        .correlate(Chat)
        .scalar_subquery()
    )


def _measure(session: Session, spec: StatsSpec, start: datetime, end: datetime) -> tuple[int, ...]:
    visitor_id = _first_message(
        ChatMessage.sender_id,
        ChatMessage.sender_type == SenderType.VISITOR,
        ChatMessage.sender_id.is_not(None),
    )
    chats = (
        select(
            func.coalesce(visitor_id, literal("chat:") + cast(Chat.id, String)).label("visitor"),
            Chat.is_real_conversation.label("real"),
            Chat.is_autosuggested.label("autosuggested"),
            _first_message(ChatMessage.sender_type, ChatMessage.type == MessageType.MSG).label(
                "starter"
            ),
            Chat.visitor_message_count.label("visitor_messages"),
            Chat.user_message_count.label("user_messages"),
        )
        .where(*_in_range(spec, start, end))
        .subquery()
    )
    c = chats.c
    wrote = c.visitor_messages >= 1
    not_suggested = ~c.autosuggested

    def visitors(condition: ColumnElement[bool] | None = None) -> Any:
        key = c.visitor if condition is None else case((condition, c.visitor))
        return func.count(distinct(key))

    def chats_where(condition: ColumnElement[bool]) -> Any:
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    row = session.execute(
        select(
            visitors(c.real),
            visitors(wrote),
            visitors(),
            visitors(c.autosuggested),
            chats_where(c.real),
            chats_where(c.autosuggested),
            chats_where(and_(not_suggested, c.starter == SenderType.USER)),
            chats_where(and_(not_suggested, c.starter == SenderType.VISITOR)),
            func.coalesce(func.sum(c.visitor_messages), 0),
            func.coalesce(func.sum(c.user_messages), 0),
            chats_where(and_(wrote, c.user_messages == 0)),
        )
    ).one()
    return tuple(int(value) for value in row)
