"""Period planning across time zones and DST changes, on its own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from tallybook.evaluations.planning import (
    TargetCalendar,
    latest_closed_notification_period,
    next_evaluation_due,
    next_notification_due,
    periods_to_evaluate,
)

HELSINKI = ZoneInfo("Europe/Helsinki")
DELAY = timedelta(minutes=5)


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=HELSINKI).astimezone(UTC)  # type: ignore[misc]


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
