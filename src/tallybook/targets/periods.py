"""Calendar periods in an organisation's timezone (DESIGN §5).

``P1D`` is a local day, ``P1W`` an ISO week from Monday, ``P1M`` a calendar month and
``P1Y`` a year; ``P<n>X`` groups n such periods counted from the one that contains the
anchor (the target's ``target_active_from``, or its creation). Bounds are computed on
local dates and then turned into instants, so a day on a DST change lasts 23 or 25 hours.

The instant and the anchor are first clamped into the supported range
(``kit.instants``: 1970 to 2999). From there, with at most 999 years to a period, the
period containing an instant starts after the year 970 and ends before 4000, in any time
zone; the period before it would start before the year 1 only for a long period that
starts before 1970, which nothing evaluates, and stops at :data:`FLOOR` instead. So the
arithmetic cannot leave ``datetime``'s range, even for a target stored with an anchor
outside the range before the API refused such instants.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta

from tallybook.kit import instants

_PERIOD = re.compile(r"^P([1-9][0-9]{0,2})([DWMY])$")


class PeriodUnit(StrEnum):
    """The letter of a period spec (``P<n><letter>``)."""

    DAY = "D"
    WEEK = "W"
    MONTH = "M"
    YEAR = "Y"


@dataclass(frozen=True)
class Period:
    start: datetime  # aware, UTC
    end: datetime  # aware, UTC, exclusive

    def iso(self) -> str:
        from tallybook.kit.schemas import format_timestamp

        return f"{format_timestamp(self.start)}/{format_timestamp(self.end)}"


def parse_period(spec: str) -> tuple[int, PeriodUnit]:
    match = _PERIOD.match(spec)
    if not match:
        raise ValueError(f"{spec!r} is not a period of the form P<n>D, P<n>W, P<n>M or P<n>Y")
    return int(match.group(1)), PeriodUnit(match.group(2))


def _unit_start(day: date, unit: PeriodUnit) -> date:
    if unit == PeriodUnit.DAY:
        return day
    if unit == PeriodUnit.WEEK:
        return day - timedelta(days=day.weekday())
    if unit == PeriodUnit.MONTH:
        return day.replace(day=1)
    return day.replace(month=1, day=1)


def _step(unit: PeriodUnit, n: int) -> relativedelta:
    return {
        PeriodUnit.DAY: relativedelta(days=n),
        PeriodUnit.WEEK: relativedelta(weeks=n),
        PeriodUnit.MONTH: relativedelta(months=n),
        PeriodUnit.YEAR: relativedelta(years=n),
    }[unit]


def _units_between(first: date, later: date, unit: PeriodUnit) -> int:
    """Whole units from the unit starting at ``first`` to the one starting at ``later``."""
    if unit == PeriodUnit.DAY:
        return (later - first).days
    if unit == PeriodUnit.WEEK:
        return (later - first).days // 7
    if unit == PeriodUnit.MONTH:
        return (later.year - first.year) * 12 + later.month - first.month
    return later.year - first.year


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    """The instant a local day starts (where midnight does not exist, the first instant)."""
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def period_containing(
    instant: datetime, spec: str, timezone: str, anchor: datetime | None = None
) -> Period:
    """The period of ``spec`` that contains ``instant``, aligned to ``anchor`` for n > 1."""
    n, unit = parse_period(spec)
    zone = ZoneInfo(timezone)
    instant = instants.clamp(instant)
    local_day = instant.astimezone(zone).date()
    unit_start = _unit_start(local_day, unit)
    if n > 1:
        anchor = instant if anchor is None else instants.clamp(anchor)
        anchor_start = _unit_start(anchor.astimezone(zone).date(), unit)
        offset = _units_between(anchor_start, unit_start, unit) // n * n
        unit_start = anchor_start + _step(unit, offset)
    start_day = unit_start
    end_day = start_day + _step(unit, n)
    return Period(local_midnight(start_day, zone), local_midnight(end_day, zone))


FLOOR = date(2, 1, 1)
"""No period starts before this day: its midnight is a valid instant in every zone."""


def previous_period(period: Period, spec: str, timezone: str) -> Period:
    """The period of ``spec`` that ends where ``period`` starts (from :data:`FLOOR` at the
    earliest)."""
    n, unit = parse_period(spec)
    zone = ZoneInfo(timezone)
    start = period.start.astimezone(zone).date()
    try:
        start_day = max(start - _step(unit, n), FLOOR)
    except (ValueError, OverflowError):  # before the year 1
        start_day = FLOOR
    return Period(local_midnight(start_day, zone), period.start)
