"""What the analytics take and refuse: every 400, the 404s of other teams' channels and
fields, the reporting permission, Range pages of reports_images, and empty answers."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import event

from tallybook.kit.db import Database
from tests.fixtures.tenants import Tenant, add_user
from tests.saferme.analytics.helpers import ANALYTICS, FIELDS
from tests.saferme.factories import (
    V4,
    Setup,
    created,
    make_channel,
    make_form,
    make_report,
    make_setup,
    upload,
    v4_headers,
)

NAMES = (
    "reports_images",
    "reports_over_time",
    "reports_per_field_selection",
    "reports_per_state",
    "reports_per_user",
    "reports_per_day_hour",
    "reports_per_week_day",
    "reports_read",
    "user_awareness",
)
WINDOW = {"start_date": "2021-01-01T00:00:00Z", "end_date": "2021-02-01T00:00:00Z"}


def _query(setup: Setup, name: str, **more: Any) -> dict[str, Any]:
    query: dict[str, Any] = {"channel_id": setup.channel_id, **WINDOW}
    if name == "reports_per_field_selection":
        query["field_id"] = setup.form.fields["Category"]["id"]
    query.update(more)
    return {k: v for k, v in query.items() if v is not None}


def _get(client: TestClient, tenant: Tenant, name: str, query: dict[str, Any]) -> Any:
    return client.get(f"{ANALYTICS}/{name}", params=query, headers=v4_headers(tenant))


def _refused(response: Any, status: int, loc: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["error"] == body["detail"] and body["detail"]
    if loc is not None:
        assert ["query", loc] in [e["loc"] for e in body["errors"]], body
    return body


@pytest.fixture
def setup(client: TestClient, tenant: Tenant) -> Setup:
    return make_setup(client, tenant)


@pytest.mark.parametrize("name", NAMES)
def test_the_window_is_required_and_checked(
    client: TestClient, tenant: Tenant, setup: Setup, name: str
) -> None:
    for missing in ("channel_id", "start_date", "end_date"):
        response = _get(client, tenant, name, _query(setup, name, **{missing: None}))
        _refused(response, 400, missing)
    bad: list[tuple[str, str]] = [
        ("channel_id", "abc"),
        ("channel_id", "1.5"),
        ("channel_id", "-1"),
        ("channel_id", ""),
        ("start_date", "yesterday"),
        ("start_date", "20210101"),  # not a count of seconds either
        ("start_date", "1609459200"),
        ("start_date", "2021-13-01T00:00:00Z"),
        ("start_date", "2021-01-01T25:00:00Z"),
        ("start_date", "1969-12-31T23:59:59Z"),  # before the supported range
        ("end_date", "3000-01-01T00:00:00Z"),  # after it
        ("end_date", ""),
    ]
    for param, value in bad:
        _refused(_get(client, tenant, name, _query(setup, name, **{param: value})), 400, param)
    for end in ("2021-01-01T00:00:00Z", "2020-12-31T23:59:59Z", "2021-01-01T02:00:00+02:00"):
        _refused(_get(client, tenant, name, _query(setup, name, end_date=end)), 400, "end_date")


@pytest.mark.parametrize("name", NAMES)
def test_other_teams_channels_and_unknown_ones_are_404(
    client: TestClient,
    tenant: Tenant,
    setup: Setup,
    new_tenant: Callable[..., Tenant],
    name: str,
) -> None:
    other = new_tenant()
    theirs = make_setup(client, other)
    for channel in (theirs.channel_id, 0, 2_000_000_000, 99_999_999_999):
        body = _refused(_get(client, tenant, name, _query(setup, name, channel_id=channel)), 404)
        assert body["code"] == "not_found"
    # Their own channel answers them.
    assert _get(client, other, name, _query(theirs, name)).status_code == 200


@pytest.mark.parametrize("name", NAMES)
def test_the_reporting_permission_is_needed(
    client: TestClient, database: Database, tenant: Tenant, setup: Setup, name: str
) -> None:
    for permissions in ([], ["settings"]):
        limited = add_user(database, tenant, permissions=permissions)
        body = _refused(_get(client, limited, name, _query(setup, name)), 403)
        assert body["code"] == "permission_denied"
    reporter = add_user(database, tenant, permissions=["reporting"])
    assert _get(client, reporter, name, _query(setup, name)).status_code == 200


def test_an_offset_whose_plus_arrived_as_a_space_is_read_as_plus(
    client: TestClient, tenant: Tenant, setup: Setup
) -> None:
    make_report(client, tenant, setup, created_at="2021-01-01T11:30:00Z")
    url = f"{ANALYTICS}/reports_per_state?channel_id={setup.channel_id}"
    plus = client.get(
        f"{url}&start_date=2021-01-02T00:00:00+13:00&end_date=2021-01-03T00:00:00%2B13:00",
        headers=v4_headers(tenant),
    )
    assert plus.status_code == 200, plus.text
    assert [s["report_count"] for s in plus.json()] == [1, 0, 0]
    dates = client.get(
        f"{url}&start_date=2021-01-01&end_date=2021-01-02", headers=v4_headers(tenant)
    )
    assert [s["report_count"] for s in dates.json()] == [1, 0, 0]
    hours = client.get(  # an offset of hours alone, as ISO 8601 allows: 11:30Z is 06:30-05
        f"{url}&start_date=2021-01-01T06:30:00-05&end_date=2021-01-01T11:31%2B00",
        headers=v4_headers(tenant),
    )
    assert hours.status_code == 200, hours.text
    assert [s["report_count"] for s in hours.json()] == [1, 0, 0]


def test_time_zone_width_and_fields_are_checked(
    client: TestClient, tenant: Tenant, setup: Setup
) -> None:
    for name in ("reports_over_time", "reports_per_day_hour", "reports_per_week_day"):
        for zone in ("Mars/Olympus", "", "utc ", "../../etc/passwd", "+02:00"):
            response = _get(client, tenant, name, _query(setup, name, time_zone=zone))
            _refused(response, 400, "time_zone")
    for width in ("year", "Week", ""):
        response = _get(client, tenant, "reports_over_time", _query(setup, "x", width=width))
        _refused(response, 400, "width")
    two_years = {"start_date": "2020-01-01T00:00:00Z", "end_date": "2022-01-01T00:00:00Z"}
    response = _get(
        client, tenant, "reports_over_time", _query(setup, "x", width="hour", **two_years)
    )
    assert "13000" in _refused(response, 400, "width")["detail"]
    for name, good in (("reports_read", "total_reads"), ("user_awareness", "total_alerts")):
        for fields in ("nope", f"{good},nope", f"{good}, {good}", "TOTAL_READS"):
            _refused(_get(client, tenant, name, _query(setup, name, fields=fields)), 400, "fields")


def test_fields_select_what_is_sent(client: TestClient, tenant: Tenant, setup: Setup) -> None:
    def read(**more: Any) -> Any:
        response = _get(client, tenant, "reports_read", _query(setup, "x", **more))
        assert response.status_code == 200, response.text
        return response.json()

    assert read() == {"total_reads": 0}
    assert read(fields="") == {"total_reads": 0}
    assert read(fields="reports_seen,unique_reads,reports_seen") == {
        "unique_reads": 0,
        "reports_seen": 0,
    }
    repeated = client.get(
        f"{ANALYTICS}/reports_read",
        params=[
            *_query(setup, "x").items(),
            ("fields", "report_readers"),
            ("fields", "total_reads"),
        ],
        headers=v4_headers(tenant),
    )
    assert repeated.json() == {"total_reads": 0, "report_readers": 0}


def test_field_selection_needs_a_choice_field_of_the_team(
    client: TestClient, tenant: Tenant, setup: Setup, new_tenant: Callable[..., Tenant]
) -> None:
    name = "reports_per_field_selection"
    _refused(_get(client, tenant, name, _query(setup, name, field_id=None)), 400, "field_id")
    for malformed in ("abc", "", "1.0"):
        response = _get(client, tenant, name, _query(setup, name, field_id=malformed))
        _refused(response, 400, "field_id")
    theirs = make_setup(client, new_tenant())
    for unknown in (theirs.form.fields["Category"]["id"], 0, 2_000_000_000):
        assert _refused(_get(client, tenant, name, _query(setup, name, field_id=unknown)), 404)
    form = make_form(client, tenant, FIELDS)
    for label in ("Checks", "Kind", "Photos", "Notes"):
        field = form.fields[label]["id"]
        body = _refused(_get(client, tenant, name, _query(setup, name, field_id=field)), 400)
        assert body["errors"][0]["loc"] == ["query", "field_id"]
    for label in ("Category", "Causes", "Resolved"):
        field = form.fields[label]["id"]
        response = _get(client, tenant, name, _query(setup, name, field_id=field))
        assert response.status_code == 200, response.text
        assert {row["report_count"] for row in response.json()} == {0}


def test_an_empty_channel(client: TestClient, tenant: Tenant, setup: Setup) -> None:
    def get(name: str, **more: Any) -> Any:
        response = _get(client, tenant, name, _query(setup, name, **more))
        assert response.status_code == 200, response.text
        return response.json()

    assert get("reports_images") == []
    assert get("reports_per_user") == []
    assert get("user_awareness") == []
    assert get("reports_read", fields="total_reads,unique_reads,report_readers,reports_seen") == {
        "total_reads": 0,
        "unique_reads": 0,
        "report_readers": 0,
        "reports_seen": 0,
    }
    assert [(s["name"], s["report_count"]) for s in get("reports_per_state")] == [
        ("New", 0),
        ("In progress", 0),
        ("Resolved", 0),
    ]
    assert [row["report_count"] for row in get("reports_per_day_hour")] == [0] * 24
    assert [row["dow"] for row in get("reports_per_week_day")] == list(range(7))
    days = get("reports_over_time")
    assert len(days) == 31 and {row["report_count"] for row in days} == {0}
    assert get("reports_per_field_selection")[0] == {
        "field_id": setup.form.fields["Category"]["id"],
        "account_id": setup.channel_id,
        "name": "Hazard",
        "value": setup.form.options("Category")[0],
        "report_count": 0,
    }
    stateless = make_channel(client, tenant, setup.form.id, "No states")
    response = _get(client, tenant, "reports_per_state", {"channel_id": stateless["id"], **WINDOW})
    assert response.json() == []


@pytest.mark.parametrize(
    ("start", "end", "width", "count"),
    [
        ("2021-01-01T00:00:00Z", "2021-01-03T00:00:00Z", "hour", 48),
        ("2021-01-01T00:00:00Z", "2021-01-03T00:00:01Z", "day", 3),
        ("2021-01-01T00:00:00Z", "2021-02-01T00:00:00Z", "day", 31),
        ("2021-01-01T00:00:00Z", "2021-02-01T00:00:01Z", "week", 6),  # from Monday 12-28
        ("2021-01-04T00:00:00Z", "2022-01-05T00:00:00Z", "week", 53),
        ("2021-01-04T00:00:00Z", "2022-01-05T00:00:01Z", "month", 13),
        ("1970-01-01T00:00:00Z", "2999-12-31T23:59:59.999Z", "month", 12360),
    ],
)
def test_the_width_follows_the_length_of_the_range(
    client: TestClient, tenant: Tenant, setup: Setup, start: str, end: str, width: str, count: int
) -> None:
    query = _query(setup, "x", start_date=start, end_date=end)
    rows = _get(client, tenant, "reports_over_time", query).json()
    assert {row["datetime_range_width"] for row in rows} == {width}
    assert len(rows) == count


def _png(size: tuple[int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, "green").save(out, "PNG")
    return out.getvalue()


def test_reports_images_are_pages_of_a_range(
    client: TestClient, tenant: Tenant, setup: Setup
) -> None:
    total = 130
    expected: list[tuple[str, str]] = []
    for day in range(26):
        at = f"2021-01-{day + 2:02d}T12:00:00Z"
        ids = [
            created(upload(client, tenant, _png((40, 30)), "p.png", "image/png"))["id"]
            for _ in range(5)
        ]
        fields = [
            {"key": setup.form.key("Category"), "value": setup.form.options("Category")[0]},
            {"key": setup.form.key("Photos"), "value": ids},
        ]
        report = make_report(client, tenant, setup, created_at=at, form_fields=fields)
        base = f"{client.base_url}{V4}/file_attachments"
        expected += [(f"{base}/{i}/thumb", report["id"]) for i in ids]

    def page(range_: str | None) -> Any:
        headers = v4_headers(tenant) if range_ is None else v4_headers(tenant, Range=range_)
        response = client.get(
            f"{ANALYTICS}/reports_images", params=_query(setup, "x"), headers=headers
        )
        assert response.status_code == 200, response.text
        return response

    first = page(None)
    assert len(first.json()) == 60
    assert first.headers["Content-Range"] == f"reports_images 0-59/{total}"
    assert page("objects=0-999").headers["Content-Range"] == f"reports_images 0-99/{total}"
    assert page("objects=200-210").headers["Content-Range"] == f"reports_images */{total}"
    assert page("objects=200-210").json() == []
    seen = [*first.json(), *page("objects=60-119").json(), *page("objects=120-").json()]
    assert page("objects=120-").headers["Content-Range"] == f"reports_images 120-129/{total}"
    assert sorted((row["styles"]["thumb"], row["report_id"]) for row in seen) == sorted(expected)
    assert len({row["report_image_id"] for row in seen}) == total
    times = [row["created_at"] for row in seen]
    assert times == sorted(times, reverse=True) and times[0] == "2021-01-27T12:00:00.000Z"
    thumb = client.get(seen[0]["styles"]["thumb"], headers=v4_headers(tenant))
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/png"
    with Image.open(io.BytesIO(thumb.content)) as image:
        assert image.size == (40, 30)
    empty = client.get(
        f"{ANALYTICS}/reports_images",
        params=_query(
            setup, "x", start_date="2020-01-01T00:00:00Z", end_date="2020-02-01T00:00:00Z"
        ),
        headers=v4_headers(tenant),
    )
    assert empty.headers["Content-Range"] == "reports_images */0" and empty.json() == []
    other = client.get(
        f"{ANALYTICS}/reports_images",
        params=_query(setup, "x"),
        headers=v4_headers(tenant, Range="items=0-5"),
    )
    assert other.headers["Content-Range"] == f"reports_images 0-59/{total}"  # the first page


def test_padding_is_not_trimmed(client: TestClient, tenant: Tenant, setup: Setup) -> None:
    for param, value in (
        ("channel_id", f" {setup.channel_id}"),
        ("start_date", "2021-01-01T00:00:00Z "),
        ("end_date", " 2021-02-01T00:00:00Z"),
    ):
        response = _get(client, tenant, "reports_per_state", _query(setup, "x", **{param: value}))
        _refused(response, 400, param)


@pytest.mark.parametrize("name", NAMES)
def test_each_answer_is_planned_for_its_window(
    client: TestClient, database: Database, tenant: Tenant, setup: Setup, name: str
) -> None:
    """On PostgreSQL every analytics call asks for plans made for its window before it
    counts (a generic plan read a year of reads 15-20 ms slower); on SQLite nothing."""
    made: list[str] = []

    def seen(_c: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        made.append(statement)

    event.listen(database.engine, "before_cursor_execute", seen)
    try:
        response = _get(client, tenant, name, _query(setup, name))
    finally:
        event.remove(database.engine, "before_cursor_execute", seen)
    assert response.status_code == 200, response.text
    asked = [i for i, s in enumerate(made) if "plan_cache_mode" in s]
    assert all(made[i] == "SET LOCAL plan_cache_mode = force_custom_plan" for i in asked), made
    if database.dialect == "postgresql":
        counting = [
            i for i, s in enumerate(made) if "v4_" in s and not s.startswith("SELECT v4_channels.")
        ]
        assert asked and counting and asked[0] < counting[0], made
    else:
        assert not asked, made
