"""What is due for a target, as pure functions of its schedule, its calendar and an instant.

``plan_target`` is the first step of a target's work in a pass (plan → measure → decide →
write, see ``evaluations.flow``): from what the schedule says was done and the instant of
the pass, it says everything the pass has to do and when the target next has work. All
the calendar arithmetic of the worker is here, so that it can be tested on its own across
time zones and DST changes (DESIGN §5, §6).
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
        if calendar.active_from is not None and period.end <= calendar.active_from:
            break  # this one and every earlier one end before the active window
        if calendar.active_until is not None and period.start >= calendar.active_until:
            # after the active window: go straight to its last period rather than step
            # back through every period since (a window ended years ago, daily periods)
            last = calendar.reporting(calendar.active_until - timedelta(microseconds=1))
            if last.start < period.start:
                period = last
                continue
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


@dataclass(frozen=True)
class Timing:
    """The worker's timing rules (settings ``evaluation_delay``, ``check_interval``,
    ``catch_up_periods``)."""

    delay: timedelta  # a period is due this long after it ends (late events)
    check_interval: timedelta  # between two ongoing checks of the current period
    catch_up_periods: int  # at most this many missed periods are evaluated


@dataclass(frozen=True)
class ScheduleState:
    """What the worker has done for a target: its ``target_schedules`` row, as read once at
    the top of the target's work."""

    evaluated_until: datetime | None = None  # end of the latest evaluated closed period
    snapshot_until: datetime | None = None  # end of the latest notification period carded
    checked_at: datetime | None = None  # the latest ongoing check
    alerted_period_start: datetime | None = None  # the period an alert went out for


@dataclass(frozen=True)
class SnapshotDue:
    """Card the reporting periods that ended within ``period`` and after ``after`` (the end
    of the previous card's notification period; None: no card yet)."""

    period: Period  # the latest closed notification period
    after: datetime | None


@dataclass(frozen=True)
class TargetPlan:
    """One target's work in a pass, decided from its schedule and the pass's instant alone."""

    now: datetime
    state: ScheduleState  # as the pass found it
    close: tuple[Period, ...]  # closed reporting periods to evaluate, oldest first
    evaluated_until: datetime | None  # the schedule's after the pass
    snapshot: SnapshotDue | None  # a snapshot card is due (only with someone to tell)
    snapshot_until: datetime | None  # the schedule's after the pass
    check: Period | None  # the current reporting period, when an ongoing check is due
    next_due: datetime  # the next period or notification period due, or the window opening
    next_check: datetime | None  # the next ongoing check, unless this pass alerts

    def after(self, *, alerted: bool) -> ScheduleState:
        """The schedule once the plan is carried out; ``alerted``: the check alerted."""
        checked = self.check is not None
        return ScheduleState(
            evaluated_until=self.evaluated_until,
            snapshot_until=self.snapshot_until,
            checked_at=self.now if checked else self.state.checked_at,
            alerted_period_start=(
                self.check.start
                if alerted and self.check is not None
                else self.state.alerted_period_start
            ),
        )

    def due_after(self, *, alerted: bool) -> datetime:
        """When the target next has work: after an alert, no more checks in the period."""
        if alerted or self.next_check is None:
            return self.next_due
        return min(self.next_due, self.next_check)


def plan_target(
    state: ScheduleState, calendar: TargetCalendar, notify: bool, now: datetime, timing: Timing
) -> TargetPlan:
    """Everything due for a target as of ``now``; ``notify``: it has active settings to
    tell (else nothing is carded or checked, and only evaluations are due)."""
    close = periods_to_evaluate(
        calendar, now, timing.delay, state.evaluated_until, timing.catch_up_periods
    )
    latest = latest_due_period(calendar, now, timing.delay).end
    evaluated_until = state.evaluated_until
    if evaluated_until is None or latest > evaluated_until:
        evaluated_until = latest
    closed = latest_closed_notification_period(calendar, now, timing.delay)
    snapshot: SnapshotDue | None = None
    snapshot_until = state.snapshot_until
    if snapshot_until is None or closed.end > snapshot_until:
        snapshot_until = closed.end  # also without settings: a later setting gets no backlog
        snapshot = SnapshotDue(closed, state.snapshot_until) if notify else None
    check, next_check = _check(state, calendar, notify, now, timing.check_interval)
    return TargetPlan(
        now=now,
        state=state,
        close=tuple(close),
        evaluated_until=evaluated_until,
        snapshot=snapshot,
        snapshot_until=snapshot_until,
        check=check,
        next_due=_next_due(calendar, notify, now, timing.delay),
        next_check=next_check,
    )


def idle_plan(state: ScheduleState, now: datetime, timing: Timing) -> TargetPlan:
    """Nothing to do (the target is gone, or not evaluated): look again after a check
    interval."""
    return TargetPlan(
        now=now,
        state=state,
        close=(),
        evaluated_until=state.evaluated_until,
        snapshot=None,
        snapshot_until=state.snapshot_until,
        check=None,
        next_due=now + timing.check_interval,
        next_check=None,
    )


def _check(
    state: ScheduleState,
    calendar: TargetCalendar,
    notify: bool,
    now: datetime,
    interval: timedelta,
) -> tuple[Period | None, datetime | None]:
    """The current period to check now, if any, and when the next check is due (None: no
    checks, as there is no one to tell, the window is shut, or the period has alerted)."""
    if not notify or not calendar.is_active_at(now):
        return None, None
    current = calendar.reporting(now)
    if state.alerted_period_start == current.start:
        return None, None
    if state.checked_at is not None and now < state.checked_at + interval:
        return None, state.checked_at + interval
    return current, now + interval


def _next_due(calendar: TargetCalendar, notify: bool, now: datetime, delay: timedelta) -> datetime:
    due = next_evaluation_due(calendar, now, delay)
    if notify:
        due = min(due, next_notification_due(calendar, now, delay))
        opens = calendar.active_from
        if opens is not None and opens > now:
            due = min(due, opens)  # checks start when the window opens, not when a period ends
    return due
