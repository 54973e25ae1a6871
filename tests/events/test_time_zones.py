"""Buckets start where the calendar of the query's time zone says, across DST changes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tallybook.events.engines.runner import QueryRunner
from tallybook.events.query.language import Interval
from tests.events.helpers import event, query


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def hourly(store: QueryRunner, start: datetime, hours: int) -> uuid.UUID:
    """One event in the middle of every UTC hour from ``start``."""
    org = uuid.uuid4()
    store.insert([event(org, start + timedelta(hours=h, minutes=30)) for h in range(hours)])
    return org


def fetch(
    store: QueryRunner,
    org: uuid.UUID,
    granularity: str,
    start: datetime,
    end: datetime,
    zone: str,
) -> list[list[object]]:
    q = query(granularity=granularity)
    return store.fetch(org, q, Interval(start=start, end=end), zone).data


def test_helsinki_spring_forward_day_has_23_hours(store: QueryRunner) -> None:
    # 2021-03-28 local runs from 2021-03-27T22:00Z (+02) to 2021-03-28T21:00Z (+03).
    org = hourly(store, utc(2021, 3, 27, 12), 48)
    rows = fetch(store, org, "day", utc(2021, 3, 27, 12), utc(2021, 3, 29, 12), "Europe/Helsinki")
    assert rows == [
        ["2021-03-27T00:00:00.000+02:00", 10],
        ["2021-03-28T00:00:00.000+02:00", 23],
        ["2021-03-29T00:00:00.000+03:00", 15],
    ]


def test_helsinki_fall_back_day_has_25_hours(store: QueryRunner) -> None:
    # 2021-10-31 local runs from 2021-10-30T21:00Z (+03) to 2021-10-31T22:00Z (+02).
    org = hourly(store, utc(2021, 10, 30, 12), 48)
    rows = fetch(store, org, "day", utc(2021, 10, 30, 12), utc(2021, 11, 1, 12), "Europe/Helsinki")
    assert rows == [
        ["2021-10-30T00:00:00.000+03:00", 9],
        ["2021-10-31T00:00:00.000+03:00", 25],
        ["2021-11-01T00:00:00.000+02:00", 14],
    ]


def test_hours_skip_the_missing_hour_in_spring(store: QueryRunner) -> None:
    org = hourly(store, utc(2021, 3, 27, 23), 4)
    rows = fetch(store, org, "hour", utc(2021, 3, 27, 23), utc(2021, 3, 28, 3), "Europe/Helsinki")
    assert [row[0] for row in rows] == [
        "2021-03-28T01:00:00.000+02:00",
        "2021-03-28T02:00:00.000+02:00",
        "2021-03-28T04:00:00.000+03:00",
        "2021-03-28T05:00:00.000+03:00",
    ]


def test_the_repeated_hour_in_autumn_is_two_buckets(store: QueryRunner) -> None:
    org = hourly(store, utc(2021, 10, 30, 23), 4)
    rows = fetch(store, org, "hour", utc(2021, 10, 30, 23), utc(2021, 10, 31, 3), "Europe/Helsinki")
    assert rows == [
        ["2021-10-31T02:00:00.000+03:00", 1],
        ["2021-10-31T03:00:00.000+03:00", 1],
        ["2021-10-31T03:00:00.000+02:00", 1],
        ["2021-10-31T04:00:00.000+02:00", 1],
    ]


def test_new_york_days_and_weeks_across_both_changes(store: QueryRunner) -> None:
    org = uuid.uuid4()
    store.insert(
        [
            event(org, utc(2021, 3, 14, 4, 59)),  # Sat 23:59 EST
            event(org, utc(2021, 3, 14, 5, 0)),  # Sun 00:00 EST
            event(org, utc(2021, 3, 15, 3, 59)),  # Sun 23:59 EDT
            event(org, utc(2021, 3, 15, 4, 0)),  # Mon 00:00 EDT
            event(org, utc(2021, 11, 8, 4, 59)),  # Sun 23:59 EST (after fall back)
            event(org, utc(2021, 11, 8, 5, 0)),  # Mon 00:00 EST
        ]
    )
    start, end, zone = utc(2021, 3, 1), utc(2021, 12, 1), "America/New_York"
    assert fetch(store, org, "day", start, end, zone) == [
        ["2021-03-13T00:00:00.000-05:00", 1],
        ["2021-03-14T00:00:00.000-05:00", 2],
        ["2021-03-15T00:00:00.000-04:00", 1],
        ["2021-11-07T00:00:00.000-04:00", 1],
        ["2021-11-08T00:00:00.000-05:00", 1],
    ]
    assert fetch(store, org, "week", start, end, zone) == [
        ["2021-03-08T00:00:00.000-05:00", 3],
        ["2021-03-15T00:00:00.000-04:00", 1],
        ["2021-11-01T00:00:00.000-04:00", 1],
        ["2021-11-08T00:00:00.000-05:00", 1],
    ]
    assert fetch(store, org, "month", start, end, zone) == [
        ["2021-03-01T00:00:00.000-05:00", 4],
        ["2021-11-01T00:00:00.000-04:00", 2],
    ]
    assert fetch(store, org, "year", start, end, zone) == [["2021-01-01T00:00:00.000-05:00", 6]]


def test_all_is_labelled_with_the_interval_start_in_the_zone(store: QueryRunner) -> None:
    org = hourly(store, utc(2021, 6, 1), 3)
    start = utc(2021, 5, 31, 21, 0, 0) + timedelta(microseconds=123_456)
    rows = fetch(store, org, "all", start, utc(2021, 6, 2), "Europe/Helsinki")
    assert rows == [["2021-06-01T00:00:00.123+03:00", 3]]


@pytest.mark.parametrize(
    ("zone", "expected"),
    [
        ("Asia/Kathmandu", ["2021-06-01T05:45:00.000+05:45", "2021-06-01T06:00:00.000+05:45"]),
        ("Asia/Kolkata", ["2021-06-01T05:30:00.000+05:30", "2021-06-01T05:45:00.000+05:30"]),
    ],
)
def test_quarter_hours_align_to_the_local_hour(
    store: QueryRunner, zone: str, expected: list[str]
) -> None:
    org = uuid.uuid4()
    store.insert([event(org, utc(2021, 6, 1, 0, 1)), event(org, utc(2021, 6, 1, 0, 16))])
    rows = fetch(store, org, "fifteen_minute", utc(2021, 6, 1), utc(2021, 6, 2), zone)
    assert [row[0] for row in rows] == expected


def test_thirty_minute_and_minute_buckets(store: QueryRunner) -> None:
    org = uuid.uuid4()
    times = [utc(2021, 6, 1, 10, 29, 59), utc(2021, 6, 1, 10, 30), utc(2021, 6, 1, 10, 30, 30)]
    store.insert([event(org, t) for t in times])
    start, end = utc(2021, 6, 1), utc(2021, 6, 2)
    assert fetch(store, org, "thirty_minute", start, end, "Asia/Kolkata") == [
        ["2021-06-01T15:30:00.000+05:30", 1],
        ["2021-06-01T16:00:00.000+05:30", 2],
    ]
    assert fetch(store, org, "minute", start, end, "UTC") == [
        ["2021-06-01T10:29:00.000+00:00", 1],
        ["2021-06-01T10:30:00.000+00:00", 2],
    ]


def test_interval_is_half_open(store: QueryRunner) -> None:
    org = uuid.uuid4()
    store.insert([event(org, utc(2021, 6, 1)), event(org, utc(2021, 6, 2))])
    assert fetch(store, org, "all", utc(2021, 6, 1), utc(2021, 6, 2), "UTC") == [
        ["2021-06-01T00:00:00.000+00:00", 1]
    ]
    assert fetch(store, org, "all", utc(2021, 6, 2, 0, 0, 1), utc(2021, 6, 3), "UTC") == []


def test_unknown_time_zone_is_refused(store: QueryRunner) -> None:
    with pytest.raises(ValueError, match="IANA"):
        fetch(store, uuid.uuid4(), "day", utc(2021, 6, 1), utc(2021, 6, 2), "Mars/Olympus")
