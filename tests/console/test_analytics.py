"""The v4 analytics dashboard over the app's HTTP client (SQLite and PostgreSQL): the nine
answers with the API's numbers, the API's refusals as a 400 page, permissions and
tenancy."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient

from tallybook.kit.db import Database
from tests.console.factories import csrf_of, post_form, sign_in
from tests.fixtures.tenants import Tenant, add_user, make_tenant
from tests.saferme.factories import V4, Setup, created, make_setup, report_body, v4_headers

RANGE = {"start": "2024-03-01", "end": "2024-03-08"}
API_RANGE = {"start_date": "2024-03-01T00:00:00Z", "end_date": "2024-03-08T00:00:00Z"}


def _reports(client: TestClient, tenant: Tenant, setup: Setup) -> None:
    """Three reports on two days (two Hazard, one Incident), one read, one alert."""
    categories = setup.form.options("Category")
    made = []
    for when, category, state in (
        ("2024-03-04T09:15:00Z", categories[0], setup.states[0]["id"]),
        ("2024-03-04T17:40:00Z", categories[0], setup.states[1]["id"]),
        ("2024-03-06T09:05:00Z", categories[1], setup.states[1]["id"]),
    ):
        body = report_body(
            setup,
            created_at=when,
            report_state_id=state,
            form_fields=[{"key": setup.form.key("Category"), "value": category}],
        )
        made.append(created(client.post(f"{V4}/reports", headers=v4_headers(tenant), json=body)))
    read = client.post(
        f"{V4}/reports/{made[0]['id']}/reads",
        headers=v4_headers(tenant),
        json={"report_read": {"created_at": "2024-03-05T08:00:00Z"}},
    )
    assert read.status_code == 201, read.text
    alert = {"user_id": tenant.user_number, "report_id": made[1]["id"]}
    answer = client.post(
        f"{V4}/notifications",
        headers=v4_headers(tenant),
        json={"notification": {**alert, "created_at": "2024-03-05T10:00:00Z"}},
    )
    assert answer.status_code == 201, answer.text


def _api(client: TestClient, tenant: Tenant, name: str, **query: Any) -> Any:
    answer = client.get(
        f"{V4}/analytics/{name}",
        params={**API_RANGE, **query},
        headers=v4_headers(tenant),
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def _cells(html: str) -> list[str]:
    return [
        re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", html)
    ]


def test_the_dashboard_shows_the_apis_numbers(client: TestClient, tenant: Tenant) -> None:
    setup = make_setup(client, tenant)
    _reports(client, tenant, setup)
    sign_in(client, tenant)
    page = client.get("/console/analytics", params={**RANGE, "channel": setup.channel_id})
    assert page.status_code == 200, page.text
    html, cells = page.text, _cells(page.text)
    channel = {"channel_id": setup.channel_id}

    states = _api(client, tenant, "reports_per_state", **channel)
    assert [s["report_count"] for s in states] == [1, 2, 0]
    for state in states:
        assert f'<td>{state["name"]}</td><td class="num">{state["report_count"]}</td>' in html

    field = setup.form.fields["Category"]["id"]
    selections = _api(client, tenant, "reports_per_field_selection", field_id=field, **channel)
    assert [s["report_count"] for s in selections] == [2, 1, 0]
    for row in selections:
        assert f'<td>{row["name"]}</td><td class="num">{row["report_count"]}</td>' in html
    # The form's three choice fields (Category, DropDown, Radio) each get a chart.
    assert html.count('aria-label="Reports per selection of ') == 3

    hours = {row["hour"]: row["report_count"] for row in _api(
        client, tenant, "reports_per_day_hour", **channel
    )}  # fmt: skip
    assert hours[9] == 2 and hours[17] == 1
    assert '<td>09:00</td><td class="num">2</td>' in html
    days = {row["dow"]: row["report_count"] for row in _api(
        client, tenant, "reports_per_week_day", **channel
    )}  # fmt: skip
    assert days[1] == 2 and days[3] == 1  # Monday 4 and Wednesday 6 March 2024
    assert '<td>Mon</td><td class="num">2</td>' in html

    over_time = _api(client, tenant, "reports_over_time", **channel)
    assert sum(row["report_count"] for row in over_time) == 3
    assert 'aria-label="Reports per day"' in html

    users = _api(client, tenant, "reports_per_user", **channel)
    assert [(u["user_id"], u["report_count"]) for u in users] == [(tenant.user_number, 3)]
    assert f"user {tenant.user_number}" in cells

    every = "total_reads,unique_reads,report_readers,reports_seen"
    reads = _api(client, tenant, "reports_read", fields=every, **channel)
    assert reads == {"total_reads": 1, "unique_reads": 1, "report_readers": 1, "reports_seen": 1}
    assert html.count("<dd>1</dd>") == 4

    awareness = _api(
        client, tenant, "user_awareness", fields="total_alerts,alerts_opened", **channel
    )
    assert [(a["user_id"], a["total_alerts"], a["alerts_opened"]) for a in awareness] == [
        (tenant.user_number, 1, 0)
    ]
    assert 'aria-label="Alerts opened per user"' in html
    assert "0 images on the range" in html


def test_the_first_channel_is_shown_and_a_team_without_channels_is_told(
    client: TestClient, database: Database
) -> None:
    tenant = make_tenant(database)
    sign_in(client, tenant)
    empty = client.get("/console/analytics")
    assert empty.status_code == 200
    assert "This organisation has no SaferMe channels yet." in empty.text
    setup = make_setup(client, tenant)
    first = client.get("/console/analytics")
    assert first.status_code == 200
    assert f'<option value="{setup.channel_id}" selected>' in first.text
    assert "Reports per state" in first.text


def test_the_apis_refusals_are_a_400_page(client: TestClient, tenant: Tenant) -> None:
    setup = make_setup(client, tenant)
    sign_in(client, tenant)
    backwards = client.get(
        "/console/analytics",
        params={"channel": setup.channel_id, "start": "2024-03-08", "end": "2024-03-01"},
    )
    assert backwards.status_code == 400
    assert 'id="end-error">must be after start_date<' in backwards.text
    zone = client.get(
        "/console/analytics",
        params={**RANGE, "channel": setup.channel_id, "time_zone": "Mars/Base"},
    )
    assert zone.status_code == 400
    assert 'aria-invalid="true" aria-describedby="time_zone-error"' in zone.text
    junk = client.get("/console/analytics", params={**RANGE, "channel": "x<script>"})
    assert junk.status_code == 400
    assert "<script>" not in junk.text


def test_another_teams_channel_is_a_404_page(
    client: TestClient, tenant: Tenant, database: Database
) -> None:
    other = make_tenant(database)
    theirs = make_setup(client, other)
    sign_in(client, tenant)
    answer = client.get("/console/analytics", params={**RANGE, "channel": theirs.channel_id})
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("text/html")
    assert "No such channel." in answer.text


def test_the_dashboard_needs_the_reporting_permission(
    client: TestClient, tenant: Tenant, database: Database
) -> None:
    setter = add_user(database, tenant, permissions=["settings"])
    client.cookies.clear()
    form = client.get("/console/sign-in")
    post_form(
        client, "/console/sign-in", csrf_of(form.text), {"token": setter.token, "next": "/console"}
    )
    answer = client.get("/console/analytics")
    assert answer.status_code == 403
    assert "/console/analytics" not in client.get("/console/exports").text
    reporter = add_user(database, tenant, permissions=["reporting"])
    sign_in(client, reporter)
    page = client.get("/console/targets")
    assert 'href="/console/analytics"' in page.text
    assert client.get("/console/analytics").status_code == 200
