"""Event factories and an independent, plain-Python answer to event queries.

The reference evaluates the query language directly on :class:`StoredEvent` objects with
``zoneinfo`` and ``re``; it shares no code with the SQL renderer, so agreement between the
two is evidence that both read DESIGN §4 the same way.
"""

from __future__ import annotations

import math
import re
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, time, timedelta
from itertools import product
from typing import Any
from zoneinfo import ZoneInfo

from tallybook.events.query.language import (
    MULTI_VALUE_DIMENSIONS,
    AndFilter,
    BoundFilter,
    EventQuery,
    Filter,
    InFilter,
    LikeFilter,
    NotFilter,
    OrFilter,
    RegexFilter,
    SearchFilter,
    SelectorFilter,
)
from tallybook.events.records import StoredEvent

T0 = datetime(2021, 3, 28, tzinfo=UTC)
NUMBER = re.compile(r"[+-]?([0-9]+([.][0-9]*)?|[.][0-9]+)([eE][+-]?[0-9]+)?")


def event(organization_id: uuid.UUID, timestamp: datetime = T0, **fields: Any) -> StoredEvent:
    values: dict[str, Any] = {
        "source": "untrusted",
        "received_at": timestamp,
        "event_version": 1,
        "vendor": "v",
        "category": "c",
        "action": "a",
        "label": "l",
    }
    values.update(fields)
    return StoredEvent(organization_id=organization_id, timestamp=timestamp, **values)


def query(**fields: Any) -> EventQuery:
    return EventQuery.model_validate({"vendor": "v", **fields})


# -- reference ----------------------------------------------------------------------------


def text(e: StoredEvent, name: str) -> str | None:
    value = getattr(e, name)
    return None if value is None else str(value)


def values_of(e: StoredEvent, name: str) -> list[str | None]:
    """Group-by values: a multi-value dimension gives each element, or one null."""
    if name in MULTI_VALUE_DIMENSIONS:
        return list(getattr(e, name)) or [None]
    return [text(e, name)]


def _like(pattern: str) -> re.Pattern[str]:
    parts = [".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern]
    return re.compile("".join(parts), re.DOTALL)


def _number(value: str) -> float | None:
    return float(value) if NUMBER.fullmatch(value) else None


def _leaf(node: Filter, value: str | None) -> bool:
    if isinstance(node, SelectorFilter):
        return value == node.value
    if isinstance(node, InFilter):
        return value in node.values
    if value is None:
        return False
    if isinstance(node, RegexFilter):
        return re.search(node.pattern, value) is not None
    if isinstance(node, LikeFilter):
        return _like(node.pattern).fullmatch(value) is not None
    if isinstance(node, SearchFilter):
        if node.query.type == "contains":
            return node.query.value in value
        return node.query.value.lower() in value.lower()
    assert isinstance(node, BoundFilter)
    return _bound(node, value)


def _bound(node: BoundFilter, value: str) -> bool:
    subject: Any = value
    lower: Any = node.lower
    upper: Any = node.upper
    if node.ordering == "numeric":
        subject = _number(value)
        if subject is None:
            return False
        lower = None if lower is None else float(lower)
        upper = None if upper is None else float(upper)
    else:
        lower = None if lower is None else _text(lower)
        upper = None if upper is None else _text(upper)
    if lower is not None and not (subject > lower if node.lowerStrict else subject >= lower):
        return False
    return upper is None or (subject < upper if node.upperStrict else subject <= upper)


def _text(value: str | float) -> str:
    if isinstance(value, str):
        return value
    return repr(int(value)) if value.is_integer() else repr(value)


def matches(node: Filter | None, e: StoredEvent) -> bool:
    if node is None:
        return True
    if isinstance(node, AndFilter):
        return all(matches(child, e) for child in node.fields)
    if isinstance(node, OrFilter):
        return any(matches(child, e) for child in node.fields)
    if isinstance(node, NotFilter):
        return not matches(node.field, e)
    if node.dimension in MULTI_VALUE_DIMENSIONS:
        elements = list(getattr(e, node.dimension))
        if not elements:
            return _leaf(node, None)
        return any(_leaf(node, element) for element in elements)
    return _leaf(node, text(e, node.dimension))


def bucket(instant: datetime, granularity: str, zone: ZoneInfo) -> datetime:
    """The start of the instant's bucket, as an aware UTC datetime."""
    local = instant.astimezone(zone)
    if granularity in ("minute", "fifteen_minute", "thirty_minute", "hour"):
        width = {"minute": 1, "fifteen_minute": 15, "thirty_minute": 30, "hour": 60}[granularity]
        start = local.replace(minute=local.minute - local.minute % width, second=0, microsecond=0)
        return start.astimezone(UTC)
    day = local.date()
    if granularity == "week":
        day -= timedelta(days=day.weekday())
    elif granularity == "month":
        day = day.replace(day=1)
    elif granularity == "year":
        day = day.replace(month=1, day=1)
    return datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)


def label(instant: datetime, zone: ZoneInfo) -> str:
    local = instant.astimezone(zone)
    offset = local.utcoffset()
    assert offset is not None
    sign = "-" if offset < timedelta(0) else "+"
    minutes = abs(int(offset.total_seconds())) // 60
    stamp = local.strftime("%Y-%m-%dT%H:%M:%S") + f".{local.microsecond // 1000:03d}"
    return f"{stamp}{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def aggregate(name: str, events: Sequence[StoredEvent]) -> Any:
    if name == "count":
        return len(events)
    values = [e.value for e in events]
    if name == "sum":
        return math.fsum(values)
    if name == "min":
        return min(values)
    if name == "max":
        return max(values)
    if name == "avg":
        return math.fsum(values) / len(values)
    dimension = name.removesuffix("_uniq")
    return len({getattr(e, dimension) for e in events} - {None})


def selected(
    events: Iterable[StoredEvent],
    organization_id: uuid.UUID,
    q: EventQuery,
    start: datetime,
    end: datetime,
) -> list[StoredEvent]:
    return [
        e
        for e in events
        if e.organization_id == organization_id
        and e.vendor == q.vendor
        and e.source in q.sources
        and start <= e.timestamp < end
        and matches(q.filters, e)
    ]


def reference_fetch(
    events: Iterable[StoredEvent],
    organization_id: uuid.UUID,
    q: EventQuery,
    start: datetime,
    end: datetime,
    time_zone: str,
) -> list[list[Any]]:
    zone = ZoneInfo(time_zone)
    groups: dict[tuple[Any, ...], list[StoredEvent]] = defaultdict(list)
    for e in selected(events, organization_id, q, start, end):
        start_of = start if q.granularity == "all" else bucket(e.timestamp, q.granularity, zone)
        for combination in product(*(values_of(e, name) for name in q.group_by)):
            groups[(start_of, *combination)].append(e)
    rows = [
        [label(key[0], zone), *key[1:], *(aggregate(a, members) for a in q.aggregations)]
        for key, members in groups.items()
    ]
    order = {id(row): key for key, row in zip(groups, rows, strict=True)}
    return sorted(rows, key=lambda row: _sort_key(order[id(row)]))


def _sort_key(key: tuple[Any, ...]) -> tuple[Any, ...]:
    return (key[0], *((value is not None, value or "") for value in key[1:]))


def reference_value(
    events: Iterable[StoredEvent],
    organization_id: uuid.UUID,
    q: EventQuery,
    start: datetime,
    end: datetime,
    field: str,
) -> float | None:
    members = selected(events, organization_id, q, start, end)
    return float(aggregate(field, members)) if members else None


def same_rows(actual: list[list[Any]], expected: list[list[Any]]) -> bool:
    if len(actual) != len(expected):
        return False
    for got, want in zip(actual, expected, strict=True):
        if len(got) != len(want):
            return False
        for a, b in zip(got, want, strict=True):
            if isinstance(b, float) and not isinstance(b, bool):
                if not isinstance(a, float) or not math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9):
                    return False
            elif a != b or type(a) is not type(b):
                return False
    return True
