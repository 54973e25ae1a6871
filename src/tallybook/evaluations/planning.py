"""Which periods are due, as pure functions of a target's settings and an instant.

All the calendar arithmetic of the worker is here, so that it can be tested on its own
across time zones and DST changes (DESIGN §5, §6).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from tallybook.targets.periods import Period, period_containing, previous_period


@dataclass(frozen=True)
class TargetCalendar:
    """What period planning needs to know about a target."""

    reporting_period: str
    notification_period: str
    timezone: str
    anchor: datetime  # target_active_from, or the target's creation
    active_from: datetime | None = None
    active_until: datetime | None = None

    def reporting(self, instant: datetime) -> Period:
        return period_containing(instant, self.reporting_period, self.timezone, self.anchor)

    def notification(self, instant: datetime) -> Period:
        return period_containing(instant, self.notification_period, self.timezone, self.anchor)

    def is_active_at(self, instant: datetime) -> bool:
        after_start = self.active_from is None or instant >= self.active_from
        before_end = self.active_until is None or instant < self.active_until
        return after_start and before_end

    def overlaps_active_window(self, period: Period) -> bool:
        starts_in_time = self.active_until is None or period.start < self.active_until
        ends_in_time = self.active_from is None or period.end > self.active_from
        return starts_in_time and ends_in_time


def latest_due_period(calendar: TargetCalendar, now: datetime, delay: timedelta) -> Period:
    """The most recent reporting period that ended at least ``delay`` before ``now``."""
    return previous_period(
        calendar.reporting(now - delay), calendar.reporting_period, calendar.timezone
    )


def periods_to_evaluate(
    calendar: TargetCalendar,
    now: datetime,
    delay: timedelta,
    evaluated_until: datetime | None,
    limit: int,
) -> list[Period]:
    """Closed, due periods not yet evaluated, oldest first: at most ``limit`` of the latest.

    Periods before the one containing the anchor and periods outside the active window are
    left out. A period already partly covered by ``evaluated_until`` (the period length was
    changed) is evaluated once it closes.
    """
    first = calendar.reporting(calendar.anchor)
    period = latest_due_period(calendar, now, delay)
    due: list[Period] = []
    while len(due) < limit and period.start >= first.start:
        if evaluated_until is not None and period.end <= evaluated_until:
            break
        if calendar.overlaps_active_window(period):
            due.append(period)
        period = previous_period(period, calendar.reporting_period, calendar.timezone)
    due.reverse()
    return due


def latest_closed_notification_period(
    calendar: TargetCalendar, now: datetime, delay: timedelta
) -> Period:
    """The most recent notification period that ended at least ``delay`` before ``now``.

    Every reporting period that ended within it is then due too, whether or not the two
    period lengths line up (a month closing mid-week belongs to that week's card).
    """
    containing = calendar.notification(now - delay)
    return previous_period(containing, calendar.notification_period, calendar.timezone)


def next_notification_due(calendar: TargetCalendar, now: datetime, delay: timedelta) -> datetime:
    """When the notification period running at ``now - delay`` becomes due."""
    return calendar.notification(now - delay).end + delay


def next_evaluation_due(calendar: TargetCalendar, now: datetime, delay: timedelta) -> datetime:
    """When the period running at ``now - delay`` becomes due."""
    return calendar.reporting(now - delay).end + delay
