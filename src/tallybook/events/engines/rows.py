"""Events as rows in column order, for the engines that hand Python rows to their database
(PostgreSQL's ``COPY``, ClickHouse's insert): missing fields filled in as
:class:`~tallybook.events.records.StoredEvent` does, ids as UUIDs (so keys compare as the
database's), instants in the engine's own form, and repeats of a client id in a batch
dropped."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any, Final

from tallybook.events.query.columns import COLUMNS, LIST_COLUMNS
from tallybook.events.records import EventRow, StoredEvent

Row = tuple[Any, ...]
"""An event in :data:`COLUMNS` order, as the engine sends it."""
Instant = Callable[[datetime], datetime]
"""An engine's form of an instant (naive UTC for PostgreSQL, aware UTC for ClickHouse)."""

ORG: Final = COLUMNS.index("organization_id")
ID: Final = COLUMNS.index("id")
TIMESTAMP: Final = COLUMNS.index("timestamp")
RECEIVED: Final = COLUMNS.index("received_at")
_LISTS: Final = [COLUMNS.index(name) for name in LIST_COLUMNS]
_DEFAULTS: Final[dict[str, Callable[[], Any]]] = {
    "value": lambda: 1.0,
    **dict.fromkeys(LIST_COLUMNS, list),
}


def stored_row(event: StoredEvent, instant: Instant) -> Row:
    row = [getattr(event, name) for name in COLUMNS]
    row[TIMESTAMP] = instant(row[TIMESTAMP])
    row[RECEIVED] = instant(row[RECEIVED])
    for index in _LISTS:
        row[index] = list(row[index])
    return tuple(row)


def plain_row(event: EventRow, instant: Instant) -> Row:
    """An :data:`EventRow` in column order, its missing fields filled in."""
    row: list[Any] = []
    for name in COLUMNS:
        value = event.get(name)
        if value is None and name in _DEFAULTS:
            value = _DEFAULTS[name]()
        row.append(value)
    row[ORG] = uuid.UUID(str(row[ORG]))
    if row[ID] is not None:
        row[ID] = uuid.UUID(str(row[ID]))
    row[RECEIVED] = instant(row[RECEIVED])
    row[TIMESTAMP] = row[RECEIVED] if row[TIMESTAMP] is None else instant(row[TIMESTAMP])
    return tuple(row)


def first_of_each_id(rows: list[Row]) -> tuple[list[Row], list[tuple[uuid.UUID, uuid.UUID]]]:
    """The rows without repeats of an earlier row's client id, and those ids."""
    seen: dict[tuple[uuid.UUID, uuid.UUID], None] = {}
    kept = []
    for row in rows:
        if row[ID] is not None:
            key = (row[ORG], row[ID])
            if key in seen:
                continue
            seen[key] = None
        kept.append(row)
    return kept, list(seen)
