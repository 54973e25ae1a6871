"""Time-zone arithmetic for bucketing, done in Python so SQL only adds fixed offsets.

An interval of at most 366 days crosses a handful of UTC-offset changes. The renderer turns
them into ``timestamp + CASE WHEN timestamp < change THEN offset ... END``, which every SQL
engine evaluates fast and identically, instead of calling a time-zone library per row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

_SCAN_STEP = timedelta(hours=6)
_PRECISION = timedelta(seconds=1)


@dataclass(frozen=True, slots=True)
class OffsetChange:
    at: datetime  # naive UTC: the first instant with the new offset
    seconds: int


@dataclass(frozen=True, slots=True)
class ZoneOffsets:
    """The UTC offsets of a zone over an interval: ``initial`` then each change in order."""

    initial: int
    changes: tuple[OffsetChange, ...]


def offset_seconds(zone: ZoneInfo, instant: datetime) -> int:
    offset = instant.astimezone(zone).utcoffset()
    return int(offset.total_seconds()) if offset is not None else 0


def zone_offsets(zone: ZoneInfo, start: datetime, end: datetime) -> ZoneOffsets:
    """Offsets in force over ``[start, end)`` (aware datetimes)."""
    initial = offset_seconds(zone, start)
    changes: list[OffsetChange] = []
    current, low = initial, start
    while low < end:
        high = min(low + _SCAN_STEP, end)
        if offset_seconds(zone, high) != current:
            low = _first_change(zone, low, high, current)
            current = offset_seconds(zone, low)
            if low < end:
                changes.append(OffsetChange(low.astimezone(UTC).replace(tzinfo=None), current))
            continue
        low = high
    return ZoneOffsets(initial, tuple(changes))


def _first_change(zone: ZoneInfo, low: datetime, high: datetime, offset: int) -> datetime:
    """The first instant in ``(low, high]`` whose offset differs from ``offset``."""
    while high - low > _PRECISION:
        middle = low + (high - low) / 2
        if offset_seconds(zone, middle) == offset:
            low = middle
        else:
            high = middle
    return high.replace(microsecond=0)


def label(instant: datetime, zone: ZoneInfo) -> str:
    """``2021-03-28T00:00:00.000+02:00``: the instant as local time with its UTC offset."""
    return instant.astimezone(zone).isoformat(timespec="milliseconds")


def utc_label(value: datetime, zone: ZoneInfo) -> str:
    """Label of a naive UTC instant."""
    return label(value.replace(tzinfo=UTC), zone)


def local_label(value: datetime | date, zone: ZoneInfo) -> str:
    """Label of the first instant of a local calendar bucket (naive local start).

    Where the local start does not exist (a zone that springs forward at midnight), the
    bucket starts at the change itself; zoneinfo's fold=0 mapping gives exactly that instant.
    """
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    return label(value.replace(tzinfo=zone).astimezone(UTC), zone)
