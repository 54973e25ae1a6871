"""Weeks with a DST change, by hand: the buckets of reports_over_time and the local hours
and weekdays, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.fixtures.tenants import Tenant
from tests.saferme.analytics.helpers import ANALYTICS
from tests.saferme.factories import make_report, make_setup, v4_headers


@pytest.fixture
def reports_at(client: TestClient, tenant: Tenant) -> Any:
    """A channel with reports made at the given instants; returns a GET of its analytics."""
    setup = make_setup(client, tenant)

    def made(*instants: str) -> Any:
        for instant in instants:
            make_report(client, tenant, setup, created_at=instant)

        def get(name: str, start: str, end: str, **more: str) -> Any:
            query = {"channel_id": setup.channel_id, "start_date": start, "end_date": end, **more}
            response = client.get(f"{ANALYTICS}/{name}", params=query, headers=v4_headers(tenant))
            assert response.status_code == 200, response.text
            return response.json()

        return get

    return made


def _buckets(rows: list[dict[str, Any]]) -> list[tuple[str, int]]:
    return [(row["datetime_range_start"], row["report_count"]) for row in rows]


def test_helsinki_autumn_week_by_day_has_a_25_hour_sunday(reports_at: Any) -> None:
    get = reports_at(
        "2021-10-31T00:30:00Z",  # Sunday 03:30 EEST, the first 03:30
        "2021-10-31T01:30:00Z",  # Sunday 03:30 EET, the second
        "2021-10-31T21:30:00Z",  # Sunday 23:30 EET
        "2021-10-31T22:30:00Z",  # Monday 00:30: after the window
        "2021-10-24T20:59:59Z",  # Sunday before, 23:59:59 EEST: before the window
    )
    rows = get(
        "reports_over_time",
        "2021-10-25T00:00:00+03:00",
        "2021-11-01T00:00:00+02:00",
        time_zone="Europe/Helsinki",
    )
    assert {row["datetime_range_width"] for row in rows} == {"day"}
    assert _buckets(rows) == [
        ("2021-10-24T21:00:00.000Z", 0),
        ("2021-10-25T21:00:00.000Z", 0),
        ("2021-10-26T21:00:00.000Z", 0),
        ("2021-10-27T21:00:00.000Z", 0),
        ("2021-10-28T21:00:00.000Z", 0),
        ("2021-10-29T21:00:00.000Z", 0),
        ("2021-10-30T21:00:00.000Z", 3),  # Sunday: 25 hours, up to 2021-10-31T22:00Z
    ]


def test_helsinki_autumn_sunday_by_hour_has_03_twice(reports_at: Any) -> None:
    get = reports_at("2021-10-31T00:30:00Z", "2021-10-31T01:30:00Z", "2021-10-31T01:59:59Z")
    rows = get(
        "reports_over_time",
        "2021-10-30T21:00:00Z",
        "2021-10-31T22:00:00Z",
        time_zone="Europe/Helsinki",
    )
    assert {row["datetime_range_width"] for row in rows} == {"hour"}
    assert len(rows) == 25
    counted = {start: n for start, n in _buckets(rows) if n}
    assert counted == {"2021-10-31T00:00:00.000Z": 1, "2021-10-31T01:00:00.000Z": 2}
    hours = get(
        "reports_per_day_hour",
        "2021-10-30T21:00:00Z",
        "2021-10-31T22:00:00Z",
        time_zone="Europe/Helsinki",
    )
    assert [row["hour"] for row in hours] == list(range(24))
    assert {row["hour"]: row["report_count"] for row in hours if row["report_count"]} == {3: 3}


def test_helsinki_spring_sunday_by_hour_has_no_03(reports_at: Any) -> None:
    get = reports_at("2021-03-28T00:59:59Z", "2021-03-28T01:00:00Z", "2021-03-28T20:59:59Z")
    rows = get(
        "reports_over_time",
        "2021-03-27T22:00:00Z",
        "2021-03-28T21:00:00Z",
        time_zone="Europe/Helsinki",
    )
    assert len(rows) == 23
    starts = [start for start, _ in _buckets(rows)]
    assert starts[:4] == [
        "2021-03-27T22:00:00.000Z",  # 00:00 EET
        "2021-03-27T23:00:00.000Z",
        "2021-03-28T00:00:00.000Z",  # 02:00 EET
        "2021-03-28T01:00:00.000Z",  # 04:00 EEST: 03:00 did not happen
    ]
    assert {start: n for start, n in _buckets(rows) if n} == {
        "2021-03-28T00:00:00.000Z": 1,  # 02:59:59 EET
        "2021-03-28T01:00:00.000Z": 1,  # 04:00:00 EEST
        "2021-03-28T20:00:00.000Z": 1,  # 23:59:59 EEST
    }
    hours = get(
        "reports_per_day_hour",
        "2021-03-27T22:00:00Z",
        "2021-03-28T21:00:00Z",
        time_zone="Europe/Helsinki",
    )
    assert {row["hour"]: row["report_count"] for row in hours if row["report_count"]} == {
        2: 1,
        4: 1,
        23: 1,
    }
    utc = get("reports_per_day_hour", "2021-03-27T22:00:00Z", "2021-03-28T21:00:00Z")
    assert {row["hour"]: row["report_count"] for row in utc if row["report_count"]} == {
        0: 1,
        1: 1,
        20: 1,
    }


def test_weeks_start_on_local_monday_across_the_change(reports_at: Any) -> None:
    get = reports_at(
        "2021-03-28T20:59:59Z",  # Sunday 23:59:59 EEST
        "2021-03-28T21:00:00Z",  # Monday 00:00 EEST
        "2021-03-21T22:00:00Z",  # Monday 00:00 EET
    )
    rows = get(
        "reports_over_time",
        "2021-03-21T22:00:00Z",
        "2021-04-04T21:00:00Z",
        time_zone="Europe/Helsinki",
    )
    assert {row["datetime_range_width"] for row in rows} == {"day"}
    weeks = get(
        "reports_over_time",
        "2021-03-21T22:00:00Z",
        "2021-04-04T21:00:00Z",
        time_zone="Europe/Helsinki",
        width="week",
    )
    assert _buckets(weeks) == [("2021-03-21T22:00:00.000Z", 2), ("2021-03-28T21:00:00.000Z", 1)]
    days = get(
        "reports_per_week_day",
        "2021-03-21T22:00:00Z",
        "2021-04-04T21:00:00Z",
        time_zone="Europe/Helsinki",
    )
    assert {row["dow"]: row["report_count"] for row in days if row["report_count"]} == {0: 1, 1: 2}


def test_auckland_autumn_weekday_and_utc_default(reports_at: Any) -> None:
    get = reports_at(
        "2021-04-03T10:30:00Z",  # Saturday 23:30 NZDT
        "2021-04-03T11:30:00Z",  # Sunday 00:30 NZDT
        "2021-04-03T14:30:00Z",  # Sunday 02:30 NZST, the second 02:30
    )
    window = ("2021-04-01T00:00:00Z", "2021-04-06T00:00:00Z")
    local = get("reports_per_week_day", *window, time_zone="Pacific/Auckland")
    assert [row["dow"] for row in local] == list(range(7))
    assert {row["dow"]: row["report_count"] for row in local if row["report_count"]} == {
        6: 1,
        0: 2,
    }
    utc = get("reports_per_week_day", *window)
    assert {row["dow"]: row["report_count"] for row in utc if row["report_count"]} == {6: 3}


def test_months_in_new_york_start_at_local_midnight(reports_at: Any) -> None:
    get = reports_at("2021-03-01T04:59:59Z", "2021-03-01T05:00:00Z", "2021-04-01T04:00:00Z")
    rows = get(
        "reports_over_time",
        "2021-01-01T05:00:00Z",
        "2022-01-01T05:00:00Z",
        time_zone="America/New_York",
        width="month",
    )
    starts = [start for start, _ in _buckets(rows)]
    assert len(starts) == 12
    assert starts[1:4] == [
        "2021-02-01T05:00:00.000Z",
        "2021-03-01T05:00:00.000Z",  # EST
        "2021-04-01T04:00:00.000Z",  # EDT
    ]
    assert {start: n for start, n in _buckets(rows) if n} == {
        "2021-02-01T05:00:00.000Z": 1,
        "2021-03-01T05:00:00.000Z": 1,
        "2021-04-01T04:00:00.000Z": 1,
    }


def test_half_hour_zones(reports_at: Any) -> None:
    get = reports_at(
        "2021-06-01T18:45:00Z",  # Kolkata 00:15 on 2 June
        "2021-10-02T15:45:00Z",  # Lord Howe 02:45 (+11), after the half-hour jump
    )
    hours = get(
        "reports_per_day_hour",
        "2021-06-01T00:00:00Z",
        "2021-06-03T00:00:00Z",
        time_zone="Asia/Kolkata",
    )
    assert {row["hour"]: row["report_count"] for row in hours if row["report_count"]} == {0: 1}
    by_hour = get(
        "reports_over_time",
        "2021-06-01T17:30:00Z",
        "2021-06-01T20:30:00Z",
        time_zone="Asia/Kolkata",
    )
    assert _buckets(by_hour) == [
        ("2021-06-01T17:30:00.000Z", 0),
        ("2021-06-01T18:30:00.000Z", 1),
        ("2021-06-01T19:30:00.000Z", 0),
    ]
    # Lord Howe Island goes from +10:30 to +11 at 02:00: the wall-clock hour 02:00–03:00
    # is half an hour long and starts when the clocks jump.
    lord_howe = get(
        "reports_over_time",
        "2021-10-02T14:30:00Z",
        "2021-10-02T17:00:00Z",
        time_zone="Australia/Lord_Howe",
    )
    assert _buckets(lord_howe) == [
        ("2021-10-02T14:30:00.000Z", 0),  # 01:00 +10:30
        ("2021-10-02T15:30:00.000Z", 1),  # 02:30 +11 (02:00 did not happen)
        ("2021-10-02T16:00:00.000Z", 0),  # 03:00 +11
    ]


def test_hours_and_weekdays_over_the_whole_supported_range(reports_at: Any) -> None:
    get = reports_at("2021-03-28T00:59:59Z", "2021-10-31T01:30:00Z", "2021-06-01T18:45:00Z")
    window = ("1970-01-01T00:00:00Z", "2999-12-31T23:59:59.999Z")
    hours = get("reports_per_day_hour", *window, time_zone="Europe/Helsinki")
    assert {row["hour"]: row["report_count"] for row in hours if row["report_count"]} == {
        2: 1,  # 02:59:59 EET
        3: 1,  # the second 03:30 of 31 October
        21: 1,  # 21:45 EEST
    }
    days = get("reports_per_week_day", *window, time_zone="Europe/Helsinki")
    assert {row["dow"]: row["report_count"] for row in days if row["report_count"]} == {0: 2, 2: 1}
