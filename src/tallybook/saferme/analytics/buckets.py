"""Time in a zone, worked out in Python so that both stores count alike (pure).

SQLite has no time-zone functions, and PostgreSQL's zone database need not be Python's.
So the calendar is computed here from ``zoneinfo`` and handed to the SQL as data:

- :func:`boundaries`: the instants where each bucket of ``reports_over_time`` starts —
  local midnights, Mondays, first days of months, or hours — which the SQL joins the
  reports against;
- :func:`offset_periods`: the stretches of constant UTC offset between ``start`` and
  ``end``, which the SQL adds to each report's instant to find its local hour and weekday.

A bucket runs from one wall-clock boundary to the next, so a day is 23 or 25 hours long
across a DST change, an hour repeated when clocks go back is two buckets, and an hour
skipped when they go forward is none.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from itertools import pairwise
from typing import Final
from zoneinfo import ZoneInfo

MAX_BUCKETS: Final = 13_000
"""The most buckets one answer holds: every month from 1970 to 3000 (the supported range
of instants) fits, so the width chosen from a range never exceeds it."""


class Width(StrEnum):
    """``datetime_range_width`` of ``reports_over_time``."""

    HOUR = "hour"
    DAY = "day"
    WEEK = "week"
    MONTH = "month"


_CHOSEN: Final = (
    (timedelta(days=2), Width.HOUR),
    (timedelta(days=31), Width.DAY),
    (timedelta(days=366), Width.WEEK),
)


def choose_width(start: datetime, end: datetime) -> Width:
    """DESIGN §9: ≤ 2 days by hour, ≤ 31 days by day, ≤ 366 days by week, else by month."""
    length = end - start
    return next((width for limit, width in _CHOSEN if length <= limit), Width.MONTH)


class TooManyBuckets(ValueError):
    """The range holds more than :data:`MAX_BUCKETS` buckets of the width asked for."""


def _floor(wall: datetime, width: Width) -> datetime:
    """The start of the naive wall-clock period holding ``wall``."""
    if width is Width.HOUR:
        return wall.replace(minute=0, second=0, microsecond=0)
    day = wall.replace(hour=0, minute=0, second=0, microsecond=0)
    if width is Width.DAY:
        return day
    if width is Width.WEEK:
        return day - timedelta(days=day.weekday())  # weeks start on Monday
    return day.replace(day=1)


def _step(wall: datetime, width: Width) -> datetime:
    if width is Width.HOUR:
        return wall + timedelta(hours=1)
    if width is Width.DAY:
        return wall + timedelta(days=1)
    if width is Width.WEEK:
        return wall + timedelta(days=7)
    month = wall.month % 12 + 1
    return wall.replace(year=wall.year + (month == 1), month=month)


def _instants(wall: datetime, zone: ZoneInfo, width: Width) -> list[datetime]:
    """The instants a wall-clock boundary happens at: one, or two when clocks go back over
    it (both are hours that start; only the first is the start of a day), or — when clocks
    go forward over it — the moment they do."""
    first = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    second = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    if first < second and width is Width.HOUR:
        return [first, second]
    if second < first:
        # skipped: the clocks pass it when they jump, which is at ``first`` only when the
        # jump starts at the boundary; Gaza's 2011 clocks went from 00:00:59 to 01:01:00
        return [_change(second, first, zone)]
    return [first]  # unique, or a repeated midnight (its first time starts the day)


def _walls(first: datetime, width: Width) -> Iterator[datetime]:
    wall = _floor(first, width)
    while True:
        yield wall
        wall = _step(wall, width)


def boundaries(start: datetime, end: datetime, width: Width, zone: ZoneInfo) -> list[datetime]:
    """``b[0] <= start < b[1] < … < b[-1]`` with ``b[-2] < end <= b[-1]``: bucket ``i`` is
    ``[b[i], b[i + 1])``. Raises :class:`TooManyBuckets` past :data:`MAX_BUCKETS`."""
    # By the hour, clocks that go back start buckets of their own (see _went_back_an_hour),
    # and may show hours before start's: Antarctica/Vostok went from 23:00 back to 17:00.
    # (A day before start: the first bucket may begin where the clocks went back.)
    changes = (
        offset_periods(start - timedelta(days=1), end, zone)[1:] if width is Width.HOUR else []
    )
    first_wall = min([_local(start, zone), *(_local(c.start, zone) for c in changes)])
    seen: set[datetime] = set()
    for wall in _walls(first_wall, width):
        # Out of order when clocks go back more than an hour: 01:00 and 02:00 both repeat
        # after Antarctica/Troll's 03:00 (+02) → 01:00 (+00), and the first 02:00 comes
        # before the second 01:00.
        instants = _instants(wall, zone, width)
        seen.update(instants)
        if min(instants) >= end:
            break
        if len(seen) > MAX_BUCKETS + 2 + 2 * len(changes):  # (before start, and repeats)
            raise TooManyBuckets(f"more than {MAX_BUCKETS} buckets")
    seen.update(c.start for c in changes if _went_back_an_hour(c.start, zone))
    found = sorted(seen)
    first = max(i for i, instant in enumerate(found) if instant <= start)
    last = next(i for i, instant in enumerate(found) if instant >= end)
    if last - first > MAX_BUCKETS:
        raise TooManyBuckets(f"more than {MAX_BUCKETS} buckets")
    return found[first : last + 1]


def _went_back_an_hour(change: datetime, zone: ZoneInfo) -> bool:
    """Whether the clocks went back into an earlier hour than the one they were in at
    ``change``: that starts a bucket, as both times of a repeated hour do. Pacific/Chatham
    goes from 03:45 back to 02:45, so 02:45–03:00 comes again after hour 3 began. Where
    clocks go back to the hour, or within one (Lord Howe's 02:00 → 01:30), the repeated
    hours' boundaries are all there is. Days, weeks and months start at the first time of
    a repeated midnight only (see :func:`_instants`), so they are not split."""
    before = _floor(_local(change - timedelta(seconds=1), zone), Width.HOUR)
    return _floor(_local(change, zone), Width.HOUR) < before


def _local(instant: datetime, zone: ZoneInfo) -> datetime:
    return instant.astimezone(zone).replace(tzinfo=None)


@dataclass(frozen=True)
class OffsetPeriod:
    """``[start, end)`` during which the zone is ``offset`` seconds ahead of UTC."""

    start: datetime
    end: datetime
    offset: int


SAMPLE: Final = timedelta(days=3)
"""How often the offset is looked at; a change between two looks is found to the second.
Two changes closer than this would be missed: in the tz database the closest are about
6.9 days apart (America/Cambridge_Bay in 2000, Asia/Gaza's rules)."""

_FIXED: Final = frozenset({"UTC", "Etc/UTC"})


def _offset(instant: datetime, zone: ZoneInfo) -> int:
    offset = instant.astimezone(zone).utcoffset()
    assert offset is not None
    return int(offset.total_seconds())


def _change(before: datetime, after: datetime, zone: ZoneInfo) -> datetime:
    """The first whole second in ``(before, after]`` whose offset is not ``before``'s (the
    tz database changes offsets at whole seconds)."""
    old = _offset(before, zone)
    low, high = math.floor(before.timestamp()), math.floor(after.timestamp())
    while high - low > 1:
        middle = (low + high) // 2
        if _offset(datetime.fromtimestamp(middle, UTC), zone) == old:
            low = middle
        else:
            high = middle
    return datetime.fromtimestamp(high, UTC)


def _samples(start: datetime, end: datetime) -> Iterator[datetime]:
    sample = start
    while sample < end:
        yield sample
        sample += SAMPLE
    yield end - timedelta(microseconds=1)  # the last instant inside


def offset_periods(start: datetime, end: datetime, zone: ZoneInfo) -> list[OffsetPeriod]:
    """The periods of constant UTC offset that cover ``[start, end)``, in order."""
    if zone.key in _FIXED:
        return [OffsetPeriod(start, end, 0)]
    periods: list[OffsetPeriod] = []
    period_start, offset = start, _offset(start, zone)
    for before, after in pairwise(_samples(start, end)):
        if after > before and _offset(after, zone) != offset:
            change = _change(before, after, zone)
            periods.append(OffsetPeriod(period_start, change, offset))
            period_start, offset = change, _offset(change, zone)
    periods.append(OffsetPeriod(period_start, end, offset))
    return periods


@dataclass(frozen=True)
class SlotRun:
    """The local hours (or days) of one offset period, as the SQL makes them: a head
    ``[start, min(first, end))`` in slot ``head``, then ``steps`` slots of ``step`` seconds
    from ``first`` (the last one cut at ``end``), numbered from ``first_slot`` round the
    cycle. Within a slot the local hour (or weekday) does not change."""

    start: datetime
    end: datetime
    first: datetime
    head: int
    first_slot: int
    steps: int


@dataclass(frozen=True)
class Cycle:
    """Local hours of the day (``HOURS``) or days of the week (``WEEKDAYS``)."""

    step: int  # seconds
    size: int  # slots in the cycle
    phase: int  # the slot of the step that starts at 1970-01-01T00:00 local


HOURS: Final = Cycle(step=3600, size=24, phase=0)
WEEKDAYS: Final = Cycle(step=86_400, size=7, phase=4)  # 1970-01-01 was a Thursday; 0 is Sunday


def slot_runs(periods: list[OffsetPeriod], cycle: Cycle) -> list[SlotRun]:
    runs = []
    for period in periods:
        start, end = period.start.timestamp(), period.end.timestamp()
        local = start + period.offset
        first_local = math.ceil(local / cycle.step) * cycle.step
        first = first_local - period.offset
        runs.append(
            SlotRun(
                start=period.start,
                end=period.end,
                first=datetime.fromtimestamp(first, UTC),
                head=(math.floor(local / cycle.step) + cycle.phase) % cycle.size,
                first_slot=(first_local // cycle.step + cycle.phase) % cycle.size,
                steps=max(0, math.ceil((end - first) / cycle.step)),
            )
        )
    return runs
