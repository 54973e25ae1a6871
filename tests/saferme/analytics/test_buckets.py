"""The calendar of the analytics (pure): offset periods and bucket boundaries, against
``datetime.astimezone`` instant by instant."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tallybook.saferme.analytics.buckets import (
    HOURS,
    MAX_BUCKETS,
    WEEKDAYS,
    Cycle,
    SlotRun,
    TooManyBuckets,
    Width,
    boundaries,
    choose_width,
    offset_periods,
    slot_runs,
)

ZONES = [
    "UTC",
    "Europe/Helsinki",
    "America/New_York",
    "Pacific/Auckland",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
    "America/Santiago",  # DST changes at midnight
    "Asia/Gaza",  # changes about a week apart in some years
    "America/Cambridge_Bay",  # two changes 6.9 days apart in 2000
    "Africa/Casablanca",  # DST suspended for Ramadan
    "Pacific/Chatham",  # changes at 02:45/03:45, off the hour
    "America/Goose_Bay",  # changed at 00:01 until 2011, back to 23:01 the day before
    "Antarctica/Troll",  # goes back two hours, 03:00 (+02) to 01:00 (+00)
]


def _offset(instant: datetime, zone: ZoneInfo) -> int:
    offset = instant.astimezone(zone).utcoffset()
    assert offset is not None
    return int(offset.total_seconds())


@pytest.mark.parametrize("name", ZONES)
@pytest.mark.parametrize("year", [2000, 2021, 2026, 2045])
def test_offset_periods_are_exact_to_the_second(name: str, year: int) -> None:
    zone = ZoneInfo(name)
    start = datetime(year, 1, 1, 0, 0, 0, 500_000, tzinfo=UTC)
    end = datetime(year + 1, 1, 1, tzinfo=UTC)
    periods = offset_periods(start, end, zone)
    assert periods[0].start == start and periods[-1].end == end
    for before, after in pairwise(periods):
        assert before.end == after.start and before.offset != after.offset
        assert _offset(after.start - timedelta(seconds=1), zone) == before.offset
    for period in periods:
        assert period.start < period.end
        assert _offset(period.start, zone) == period.offset
        assert _offset(period.end - timedelta(microseconds=1), zone) == period.offset
    # Brute force, hour by hour (and at every change the tz database has within the year).
    hour = start
    index = 0
    while hour < end:
        while periods[index].end <= hour:
            index += 1
        assert _offset(hour, zone) == periods[index].offset, hour
        hour += timedelta(hours=1)


@settings(max_examples=200, deadline=None)
@given(
    name=st.sampled_from(ZONES),
    start=st.datetimes(datetime(1970, 1, 2), datetime(2090, 1, 1), timezones=st.just(UTC)),
    length=st.timedeltas(timedelta(seconds=1), timedelta(days=800)),
)
def test_offset_periods_cover_any_window(name: str, start: datetime, length: timedelta) -> None:
    zone = ZoneInfo(name)
    periods = offset_periods(start, start + length, zone)
    assert periods[0].start == start and periods[-1].end == start + length
    for period in periods:
        assert _offset(period.start, zone) == period.offset
        middle = period.start + (period.end - period.start) / 2
        assert _offset(middle, zone) == period.offset


PERIODS: dict[Width, Callable[[datetime], object]] = {
    Width.HOUR: lambda d: (d.date(), d.hour),
    Width.DAY: lambda d: d.date(),
    Width.WEEK: lambda d: d.isocalendar()[:2],
    Width.MONTH: lambda d: (d.year, d.month),
}
"""The local period of each width a naive wall time is in."""


def _wall(instant: datetime, zone: ZoneInfo) -> datetime:
    return instant.astimezone(zone).replace(tzinfo=None)


@settings(max_examples=300, deadline=None)
@given(
    name=st.sampled_from(ZONES),
    width=st.sampled_from(list(Width)),
    start=st.datetimes(datetime(1971, 1, 1), datetime(2060, 1, 1), timezones=st.just(UTC)),
    length=st.timedeltas(timedelta(seconds=1), timedelta(days=120)),
)
def test_boundaries_tile_the_window_on_local_boundaries(
    name: str, width: Width, start: datetime, length: timedelta
) -> None:
    zone, end = ZoneInfo(name), start + length
    bounds = boundaries(start, end, width, zone)
    assert bounds[0] <= start < bounds[1] and bounds[-2] < end <= bounds[-1]
    period = PERIODS[width]
    second = timedelta(seconds=1)
    for before, after in pairwise(bounds):
        assert before < after
        # A bucket is one local period: its first and last second are in the same one...
        first, last = _wall(before, zone), _wall(after - second, zone)
        assert period(first) == period(last), (before, after)
        # ...and it starts where one does: on the hour (or midnight), or where the clocks
        # were changed (into the period, or back to repeat an hour).
        changed = _offset(before - second, zone) != _offset(before, zone)
        on_boundary = first.minute == first.second == 0 and (width is Width.HOUR or first.hour == 0)
        assert on_boundary or changed, (before, first)
        assert changed or period(_wall(before - second, zone)) != period(first)


def test_a_repeated_hour_is_two_buckets_and_a_skipped_one_none() -> None:
    helsinki = ZoneInfo("Europe/Helsinki")
    autumn = boundaries(
        datetime(2021, 10, 30, 21, tzinfo=UTC),
        datetime(2021, 10, 31, 22, tzinfo=UTC),
        Width.HOUR,
        helsinki,
    )
    assert len(autumn) == 26  # 25 buckets
    spring = boundaries(
        datetime(2021, 3, 27, 22, tzinfo=UTC),
        datetime(2021, 3, 28, 21, tzinfo=UTC),
        Width.HOUR,
        helsinki,
    )
    assert len(spring) == 24  # 23 buckets
    santiago = ZoneInfo("America/Santiago")  # 2022-09-11 00:00 did not happen: 01:00 then
    days = boundaries(
        datetime(2022, 9, 10, 12, tzinfo=UTC),
        datetime(2022, 9, 12, 12, tzinfo=UTC),
        Width.DAY,
        santiago,
    )
    assert [_wall(b, santiago).isoformat() for b in days] == [
        "2022-09-10T00:00:00",
        "2022-09-11T01:00:00",
        "2022-09-12T00:00:00",
        "2022-09-13T00:00:00",
    ]


def test_choose_width_thresholds() -> None:
    start = datetime(2021, 1, 1, tzinfo=UTC)
    for length, width in [
        (timedelta(seconds=1), Width.HOUR),
        (timedelta(days=2), Width.HOUR),
        (timedelta(days=2, microseconds=1), Width.DAY),
        (timedelta(days=31), Width.DAY),
        (timedelta(days=31, seconds=1), Width.WEEK),
        (timedelta(days=366), Width.WEEK),
        (timedelta(days=366, seconds=1), Width.MONTH),
    ]:
        assert choose_width(start, start + length) is width


def test_too_many_buckets() -> None:
    start = datetime(2020, 1, 1, tzinfo=UTC)
    end = start + timedelta(hours=MAX_BUCKETS)
    assert len(boundaries(start, end, Width.HOUR, ZoneInfo("UTC"))) == MAX_BUCKETS + 1
    with pytest.raises(TooManyBuckets):
        boundaries(start, end + timedelta(hours=1), Width.HOUR, ZoneInfo("UTC"))
    everything = boundaries(
        datetime(1970, 1, 1, tzinfo=UTC),
        datetime(2999, 12, 31, 23, 59, tzinfo=UTC),
        Width.MONTH,
        ZoneInfo("Pacific/Auckland"),
    )
    # Local January 1970 (from 1969-12-31T12:00Z) to local January 3000: 12,361 months.
    assert len(everything) == 12_362
    assert everything[0] == datetime(1969, 12, 31, 12, tzinfo=UTC)


def _pieces(runs: list[SlotRun], cycle: Cycle) -> list[tuple[datetime, datetime, int]]:
    """The pieces the SQL makes of the runs (``reports_per_slot``), in Python."""
    pieces = []
    for run in runs:
        pieces.append((run.start, min(run.first, run.end), run.head))
        for k in range(run.steps):
            low = run.first + timedelta(seconds=k * cycle.step)
            high = min(run.first + timedelta(seconds=(k + 1) * cycle.step), run.end)
            pieces.append((low, high, (run.first_slot + k) % cycle.size))
    return pieces


@settings(max_examples=300, deadline=None)
@given(
    name=st.sampled_from(ZONES),
    cycle=st.sampled_from([HOURS, WEEKDAYS]),
    start=st.datetimes(datetime(1970, 1, 1), datetime(2060, 1, 1), timezones=st.just(UTC)),
    length=st.timedeltas(timedelta(seconds=1), timedelta(days=60)),
    probes=st.lists(st.integers(0, 2**62), min_size=1, max_size=20),
)
def test_slot_pieces_tile_the_window_with_the_local_hour_or_weekday(
    name: str,
    cycle: Cycle,
    start: datetime,
    length: timedelta,
    probes: list[int],
) -> None:
    zone, end = ZoneInfo(name), start + length
    pieces = _pieces(slot_runs(offset_periods(start, end, zone), cycle), cycle)
    nonempty = [p for p in pieces if p[0] < p[1]]
    assert nonempty[0][0] == start and nonempty[-1][1] == end
    for before, after in pairwise(nonempty):
        assert before[1] == after[0]
    for probe in probes:
        instant = start + timedelta(microseconds=probe % (length // timedelta(microseconds=1)))
        (slot,) = [s for low, high, s in nonempty if low <= instant < high]
        local = instant.astimezone(zone)
        assert slot == (local.hour if cycle is HOURS else local.isoweekday() % 7), instant


def test_a_jump_that_starts_off_the_hour_starts_the_next_hour_when_it_happens() -> None:
    """Gaza's clocks went from 00:00:59 to 01:01:00 on 2011-04-01 (22:01 UTC): local hour
    0 lasted one minute, and hour 1 began at the jump, not at 02:00's instant."""
    gaza = ZoneInfo("Asia/Gaza")
    hours = boundaries(
        datetime(2011, 3, 31, 21, tzinfo=UTC),
        datetime(2011, 3, 31, 23, 30, tzinfo=UTC),
        Width.HOUR,
        gaza,
    )
    assert hours == [
        datetime(2011, 3, 31, 21, tzinfo=UTC),  # 23:00 +02
        datetime(2011, 3, 31, 22, tzinfo=UTC),  # 00:00 +02
        datetime(2011, 3, 31, 22, 1, tzinfo=UTC),  # 01:01 +03, the jump
        datetime(2011, 3, 31, 23, tzinfo=UTC),  # 02:00 +03
        datetime(2011, 4, 1, 0, tzinfo=UTC),  # 03:00 +03
    ]


def test_clocks_that_go_back_into_an_earlier_hour_start_a_bucket_when_they_do() -> None:
    """Pacific/Chatham's clocks went from 03:45 (+13:45) back to 02:45 (+12:45) on
    2023-04-02 (14:00 UTC): 02:45-03:00 came again after hour 3 had begun, and is a bucket
    of its own, as a repeated hour is."""
    chatham = ZoneInfo("Pacific/Chatham")
    hours = boundaries(
        datetime(2023, 4, 1, 12, 15, tzinfo=UTC),
        datetime(2023, 4, 1, 15, 15, tzinfo=UTC),
        Width.HOUR,
        chatham,
    )
    assert hours == [
        datetime(2023, 4, 1, 12, 15, tzinfo=UTC),  # 02:00 +13:45
        datetime(2023, 4, 1, 13, 15, tzinfo=UTC),  # 03:00 +13:45
        datetime(2023, 4, 1, 14, tzinfo=UTC),  # 02:45 +12:45, the change
        datetime(2023, 4, 1, 14, 15, tzinfo=UTC),  # 03:00 +12:45
        datetime(2023, 4, 1, 15, 15, tzinfo=UTC),  # 04:00 +12:45
    ]


@pytest.mark.parametrize(
    ("name", "start", "hours"),
    [
        # 03:00 (+02) back to 01:00 (+00): the first 02:00 comes before the second 01:00
        ("Antarctica/Troll", datetime(2023, 10, 28, 23, tzinfo=UTC), ["01", "02", "01", "02"]),
        # 23:00 (+07) back to 17:00 (+00): hours before the window's first local hour
        ("Antarctica/Vostok", datetime(1994, 1, 31, 15, tzinfo=UTC), ["22", "23", "17", "18"]),
    ],
)
def test_clocks_that_go_back_hours_give_each_hour_as_it_comes(
    name: str, start: datetime, hours: list[str]
) -> None:
    zone = ZoneInfo(name)
    bounds = boundaries(start, start + timedelta(hours=4), Width.HOUR, zone)
    assert bounds == [start + timedelta(hours=h) for h in range(5)]
    assert [f"{_wall(b, zone).hour:02}" for b in bounds[:-1]] == hours
