from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tallybook.targets.periods import parse_period, period_containing, previous_period

HEL = "Europe/Helsinki"


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def test_day_in_helsinki() -> None:
    p = period_containing(utc(2021, 4, 1, 10), "P1D", HEL)
    assert (p.start, p.end) == (utc(2021, 3, 31, 21), utc(2021, 4, 1, 21))
    assert p.iso() == "2021-03-31T21:00:00.000Z/2021-04-01T21:00:00.000Z"


def test_dst_days_are_23_and_25_hours() -> None:
    spring = period_containing(utc(2021, 3, 28, 12), "P1D", HEL)
    assert spring.end - spring.start == timedelta(hours=23)
    autumn = period_containing(utc(2021, 10, 31, 12), "P1D", HEL)
    assert autumn.end - autumn.start == timedelta(hours=25)
    ny = period_containing(utc(2021, 3, 14, 12), "P1D", "America/New_York")
    assert ny.end - ny.start == timedelta(hours=23)


def test_week_starts_monday_and_month_and_year() -> None:
    week = period_containing(utc(2021, 4, 1, 10), "P1W", "UTC")  # a Thursday
    assert (week.start, week.end) == (utc(2021, 3, 29), utc(2021, 4, 5))
    month = period_containing(utc(2021, 2, 10), "P1M", "UTC")
    assert (month.start, month.end) == (utc(2021, 2, 1), utc(2021, 3, 1))
    year = period_containing(utc(2021, 2, 10), "P1Y", HEL)
    assert (year.start, year.end) == (utc(2020, 12, 31, 22), utc(2021, 12, 31, 22))


def test_multi_unit_periods_count_from_the_anchor() -> None:
    anchor = utc(2021, 1, 6, 12)  # a Wednesday, in the ISO week starting 2021-01-04
    p = period_containing(utc(2021, 1, 20), "P2W", "UTC", anchor)
    assert (p.start, p.end) == (utc(2021, 1, 18), utc(2021, 2, 1))
    p = period_containing(utc(2021, 1, 12), "P2W", "UTC", anchor)
    assert (p.start, p.end) == (utc(2021, 1, 4), utc(2021, 1, 18))
    p = period_containing(utc(2021, 5, 3), "P3M", "UTC", utc(2021, 2, 15))
    assert (p.start, p.end) == (utc(2021, 5, 1), utc(2021, 8, 1))


def test_previous_period() -> None:
    p = period_containing(utc(2021, 3, 29, 12), "P1D", HEL)
    prev = previous_period(p, "P1D", HEL)
    assert prev.end == p.start
    assert prev.end - prev.start == timedelta(hours=23)


@pytest.mark.parametrize("spec", ["P0D", "PT1H", "P1M2D", "P1000D", "1D", "P1d"])
def test_bad_periods(spec: str) -> None:
    with pytest.raises(ValueError, match="period"):
        parse_period(spec)


@given(
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2040, 1, 1)),
    st.sampled_from(["P1D", "P1W", "P1M", "P1Y", "P3D", "P2W", "P2M"]),
    st.sampled_from([HEL, "America/New_York", "UTC", "Asia/Kolkata", "America/Santiago"]),
)
def test_periods_contain_the_instant_and_tile(naive: datetime, spec: str, tz: str) -> None:
    instant = naive.replace(tzinfo=UTC)
    anchor = utc(2000, 1, 1)
    p = period_containing(instant, spec, tz, anchor)
    assert p.start <= instant < p.end
    nxt = period_containing(p.end, spec, tz, anchor)
    assert nxt.start == p.end
    assert period_containing(p.start, spec, tz, anchor) == p
