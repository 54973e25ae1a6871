"""Period planning across time zones and DST changes, on its own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from tallybook.evaluations.planning import (
    ScheduleState,
    TargetCalendar,
    Timing,
    idle_plan,
    latest_closed_notification_period,
    latest_due_period,
    next_evaluation_due,
    next_notification_due,
    periods_to_evaluate,
    plan_target,
)
from tallybook.targets.periods import Period, previous_period

HELSINKI = ZoneInfo("Europe/Helsinki")
DELAY = timedelta(minutes=5)
CHECK = timedelta(minutes=5)
TIMING = Timing(delay=DELAY, check_interval=CHECK, catch_up_periods=31)


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=HELSINKI).astimezone(UTC)


def calendar(period: str = "P1D", notify: str | None = None, **kwargs: datetime) -> TargetCalendar:
    return TargetCalendar(
        reporting_period=period,
        notification_period=notify or period,
        timezone="Europe/Helsinki",
        anchor=kwargs.pop("anchor", local(2027, 3, 1)),
        **kwargs,
    )


def test_the_spring_dst_day_is_one_period_of_23_hours() -> None:
    (period,) = periods_to_evaluate(
        calendar(), local(2027, 3, 29, 0, 5), DELAY, local(2027, 3, 28), 31
    )
    assert period.start == local(2027, 3, 28)
    assert period.end - period.start == timedelta(hours=23)


def test_the_autumn_dst_day_is_one_period_of_25_hours() -> None:
    (period,) = periods_to_evaluate(
        calendar(), local(2027, 11, 1, 0, 5), DELAY, local(2027, 10, 31), 31
    )
    assert period.start == local(2027, 10, 31)
    assert period.end - period.start == timedelta(hours=25)


def test_a_period_is_due_only_after_the_evaluation_delay() -> None:
    cal = calendar()
    assert periods_to_evaluate(cal, local(2027, 3, 10, 0, 4), DELAY, local(2027, 3, 9), 31) == []
    assert next_evaluation_due(cal, local(2027, 3, 10, 0, 4), DELAY) == local(2027, 3, 10, 0, 5)
    due = periods_to_evaluate(cal, local(2027, 3, 10, 0, 5), DELAY, local(2027, 3, 9), 31)
    assert [p.start for p in due] == [local(2027, 3, 9)]


def test_catch_up_evaluates_each_missed_period_once_and_at_most_the_limit() -> None:
    cal = calendar(anchor=local(2027, 1, 1))
    week = periods_to_evaluate(cal, local(2027, 3, 17, 1), DELAY, local(2027, 3, 10), 31)
    assert [p.start for p in week] == [local(2027, 3, d) for d in range(10, 17)]
    capped = periods_to_evaluate(cal, local(2027, 3, 17, 1), DELAY, None, 31)
    assert len(capped) == 31
    assert capped[-1].start == local(2027, 3, 16)
    assert capped[0].start == local(2027, 2, 14)


def test_nothing_before_the_anchor_period_and_nothing_outside_the_active_window() -> None:
    cal = calendar(
        anchor=local(2027, 3, 5, 15),
        active_from=local(2027, 3, 5, 15),
        active_until=local(2027, 3, 8, 12),
    )
    due = periods_to_evaluate(cal, local(2027, 3, 20), DELAY, None, 31)
    # the day containing active_from and the day containing active_until both count
    assert [p.start for p in due] == [local(2027, 3, d) for d in (5, 6, 7, 8)]


def _walked(
    cal: TargetCalendar, now: datetime, evaluated_until: datetime | None, limit: int
) -> list[Period]:
    """periods_to_evaluate's answer by its definition: every period stepped back one by one
    from the latest due one to the anchor's, keeping those in the active window."""
    first = cal.reporting(cal.anchor)
    period = latest_due_period(cal, now, DELAY)
    due: list[Period] = []
    while len(due) < limit and period.start >= first.start:
        if evaluated_until is not None and period.end <= evaluated_until:
            break
        if cal.overlaps_active_window(period):
            due.append(period)
        period = previous_period(period, cal.reporting_period, cal.timezone)
    return due[::-1]


_days = st.integers(0, 3 * 365)


@settings(max_examples=200, deadline=None)
@given(
    spec=st.sampled_from(["P1D", "P3D", "P1W", "P2W", "P1M", "P3M", "P1Y"]),
    anchor=_days,
    window=st.tuples(st.none() | _days, st.none() | _days),
    now=_days,
    evaluated=st.none() | _days,
    limit=st.integers(1, 40),
    zone=st.sampled_from(
        ["Europe/Helsinki", "America/New_York", "Australia/Lord_Howe", "America/Santiago"]
    ),
)
def test_skipping_outside_the_active_window_changes_no_answer(
    spec: str,
    anchor: int,
    window: tuple[int | None, int | None],
    now: int,
    evaluated: int | None,
    limit: int,
    zone: str,
) -> None:
    start = datetime(2025, 1, 1, 7, 30, tzinfo=UTC)

    def day(n: int | None) -> datetime | None:
        return None if n is None else start + timedelta(days=n, hours=n % 24)

    cal = TargetCalendar(spec, spec, zone, start + timedelta(days=anchor), *map(day, window))
    at, until = start + timedelta(days=now + 400), day(evaluated)
    assert periods_to_evaluate(cal, at, DELAY, until, limit) == _walked(cal, at, until, limit)


def test_a_window_that_ended_long_ago_is_not_walked_through_day_by_day() -> None:
    # Centuries of daily periods after the window: found at once, not stepped through.
    cal = calendar(
        anchor=local(1971, 1, 1), active_from=local(1971, 1, 1), active_until=local(1971, 1, 3)
    )
    due = periods_to_evaluate(cal, local(2999, 6, 1), DELAY, None, 31)
    assert [p.start for p in due] == [local(1971, 1, 1), local(1971, 1, 2)]
    assert periods_to_evaluate(cal, local(2999, 6, 1), DELAY, local(1971, 1, 2), 31) == due[1:]


def test_weekly_notifications_close_on_mondays_in_local_time() -> None:
    cal = calendar("P1D", "P1W")
    # Monday 2027-03-29 00:05 local: the week Mon 22 – Mon 29 (with the DST day) has closed
    week = latest_closed_notification_period(cal, local(2027, 3, 29, 0, 5), DELAY)
    assert (week.start, week.end) == (local(2027, 3, 22), local(2027, 3, 29))
    assert week.end - week.start == timedelta(days=7, hours=-1)
    # within the delay, and on Wednesday, the week before is the latest closed one
    assert latest_closed_notification_period(cal, local(2027, 3, 29, 0, 4), DELAY).end == local(
        2027, 3, 22
    )
    assert latest_closed_notification_period(cal, local(2027, 3, 31), DELAY).end == local(
        2027, 3, 29
    )
    assert next_notification_due(cal, local(2027, 3, 31), DELAY) == local(2027, 4, 5, 0, 5)


def test_monthly_period_in_a_zone_far_from_utc() -> None:
    cal = TargetCalendar("P1M", "P1M", "Pacific/Kiritimati", datetime(2027, 1, 1, tzinfo=UTC))
    now = datetime(2027, 2, 28, 10, 5, tzinfo=UTC)  # 2027-03-01 00:05 at UTC+14
    (period,) = periods_to_evaluate(cal, now, DELAY, datetime(2027, 1, 31, 10, tzinfo=UTC), 31)
    assert period.start == datetime(2027, 1, 31, 10, tzinfo=UTC)
    assert period.end == datetime(2027, 2, 28, 10, tzinfo=UTC)


# The plan of one target's work in a pass: what plan_target decides before any I/O.


def test_a_new_target_plans_its_closed_periods_a_snapshot_and_a_check() -> None:
    cal = calendar(anchor=local(2027, 3, 8))
    now = local(2027, 3, 10, 12)
    plan = plan_target(ScheduleState(), cal, True, now, TIMING)
    assert [p.start for p in plan.close] == [local(2027, 3, 8), local(2027, 3, 9)]
    assert plan.evaluated_until == local(2027, 3, 10)
    assert plan.snapshot is not None
    assert (plan.snapshot.period.end, plan.snapshot.after) == (local(2027, 3, 10), None)
    assert plan.snapshot_until == local(2027, 3, 10)
    assert plan.check is not None and plan.check.start == local(2027, 3, 10)
    assert plan.next_due == local(2027, 3, 11, 0, 5)
    assert plan.next_check == now + CHECK
    assert plan.due_after(alerted=False) == now + CHECK
    assert plan.due_after(alerted=True) == local(2027, 3, 11, 0, 5)


def test_without_settings_only_evaluations_are_planned_and_no_backlog_is_kept() -> None:
    cal = calendar(anchor=local(2027, 3, 8), active_from=local(2027, 3, 20))
    now = local(2027, 3, 10, 12)
    plan = plan_target(ScheduleState(), cal, False, now, TIMING)
    assert plan.close == ()  # before the active window
    assert (plan.snapshot, plan.check, plan.next_check) == (None, None, None)
    assert plan.snapshot_until == local(2027, 3, 10)  # a later setting gets no backlog
    assert plan.next_due == local(2027, 3, 11, 0, 5)  # not the window's opening


def test_checks_wait_for_the_window_to_open() -> None:
    cal = calendar(anchor=local(2027, 3, 8), active_from=local(2027, 3, 10, 15))
    plan = plan_target(ScheduleState(), cal, True, local(2027, 3, 10, 12), TIMING)
    assert (plan.check, plan.next_check) == (None, None)
    assert plan.next_due == local(2027, 3, 10, 15)


def test_a_recent_check_waits_for_its_interval_and_an_alerted_period_is_not_checked() -> None:
    cal = calendar()
    now = local(2027, 3, 10, 12)
    done = ScheduleState(
        evaluated_until=local(2027, 3, 10),
        snapshot_until=local(2027, 3, 10),
        checked_at=now - timedelta(minutes=2),
    )
    plan = plan_target(done, cal, True, now, TIMING)
    assert (plan.close, plan.snapshot, plan.check) == ((), None, None)
    assert plan.next_check == now + timedelta(minutes=3)
    assert plan.due_after(alerted=False) == now + timedelta(minutes=3)
    assert plan.after(alerted=False) == done  # nothing was done, nothing changes
    alerted = ScheduleState(
        evaluated_until=local(2027, 3, 10),
        snapshot_until=local(2027, 3, 10),
        alerted_period_start=local(2027, 3, 10),
    )
    plan = plan_target(alerted, cal, True, now, TIMING)
    assert (plan.check, plan.next_check) == (None, None)
    assert plan.due_after(alerted=False) == local(2027, 3, 11, 0, 5)


def test_the_schedule_after_a_check_records_it_and_an_alert_records_its_period() -> None:
    plan = plan_target(ScheduleState(), calendar(), True, local(2027, 3, 10, 12), TIMING)
    quiet = plan.after(alerted=False)
    assert (quiet.checked_at, quiet.alerted_period_start) == (local(2027, 3, 10, 12), None)
    loud = plan.after(alerted=True)
    assert (loud.checked_at, loud.alerted_period_start) == (
        local(2027, 3, 10, 12),
        local(2027, 3, 10),
    )


def test_a_snapshot_is_planned_once_per_closed_notification_period() -> None:
    cal = calendar("P1D", "P1W")
    monday = local(2027, 3, 29, 0, 5)
    state = ScheduleState(evaluated_until=local(2027, 3, 28), snapshot_until=local(2027, 3, 22))
    plan = plan_target(state, cal, True, monday, TIMING)
    assert plan.snapshot is not None
    assert (plan.snapshot.period.start, plan.snapshot.period.end) == (
        local(2027, 3, 22),
        local(2027, 3, 29),
    )
    assert plan.snapshot.after == local(2027, 3, 22)
    again = plan_target(plan.after(alerted=False), cal, True, monday, TIMING)
    assert again.snapshot is None
    assert again.next_due == local(2027, 3, 30, 0, 5)  # the next day's evaluation


def test_an_idle_target_looks_again_after_a_check_interval_and_keeps_its_state() -> None:
    state = ScheduleState(evaluated_until=local(2027, 3, 9), checked_at=local(2027, 3, 9, 8))
    now = local(2027, 3, 10, 12)
    plan = idle_plan(state, now, TIMING)
    assert (plan.close, plan.snapshot, plan.check) == ((), None, None)
    assert plan.after(alerted=False) == state
    assert plan.due_after(alerted=False) == now + CHECK
