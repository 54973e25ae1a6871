"""The workflow, event explorer and export pages over the app's HTTP client (SQLite and
PostgreSQL): the same numbers as the API, the API's refusals, downloads, permissions and
tenancy."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from tallybook.events.store import EventStore
from tests.console.factories import post_form, sign_in
from tests.exports.factories import ExportApi
from tests.fixtures.tenants import Tenant
from tests.funnels.factories import T0, create_workflow, reporting, step_event

DAY = {"start": "2022-11-03", "end": "2022-11-04"}


def _funnel(event_store: EventStore, tenant: Tenant, client: TestClient) -> str:
    """An interaction workflow with three sessions at step 0, two at 1 and one at 2."""
    workflow_id = create_workflow(client, tenant)
    events = [
        step_event(
            tenant.org_id,
            workflow_id,
            step,
            T0 + timedelta(minutes=10 * session + step),
            session_id=f"s{session}",
            visitor_id=f"v{session}",
        )
        for session in range(3)
        for step in range(3 - session)
    ]
    event_store.insert(events)
    return str(workflow_id)


def test_workflow_page_shows_the_api_chart(
    client: TestClient, tenant: Tenant, event_store: EventStore
) -> None:
    workflow_id = _funnel(event_store, tenant, client)
    api = client.post(
        f"{reporting(tenant)}/workflows/{workflow_id}/query",
        json={"filters": [], "interval": {k: f"{v}T00:00:00Z" for k, v in DAY.items()}},
        headers=tenant.headers,
    )
    assert api.status_code == 200, api.text
    sessions = [step["sessions"] for step in api.json()["steps"]]
    assert sessions == [3, 2, 1]
    sign_in(client, tenant)
    page = client.get(f"/console/workflows/{workflow_id}", params={**DAY, "step": "1"})
    assert page.status_code == 200
    assert 'aria-label="Sessions at each step of interaction workflow"' in page.text
    for count, share in ((3, ""), (2, " (67%)"), (1, " (33%)")):
        assert f">{count}{share}</text>" in page.text
    assert "66.7 %" in page.text  # conversion of step 1, as the API's 2/3
    assert "Step 1 source data" in page.text
    assert page.text.count("<td>s0</td>") + page.text.count("<td>s1</td>") >= 2


def test_workflow_download_is_the_apis_file(
    client: TestClient, tenant: Tenant, event_store: EventStore
) -> None:
    workflow_id = _funnel(event_store, tenant, client)
    sign_in(client, tenant)
    console = client.get(
        f"/console/workflows/{workflow_id}/download", params={**DAY, "step": "1", "format": "csv"}
    )
    api = client.post(
        f"{reporting(tenant)}/workflows/{workflow_id}/step/1/download",
        json={
            "filters": [],
            "interval": {k: f"{v}T00:00:00Z" for k, v in DAY.items()},
            "basic": True,
            "format": "csv",
        },
        headers=tenant.headers,
    )
    assert console.status_code == api.status_code == 200
    assert console.content == api.content
    assert console.headers["content-disposition"] == api.headers["content-disposition"]


def test_workflow_page_refusals_are_html(
    client: TestClient, tenant: Tenant, new_tenant: Callable[..., Tenant], event_store: EventStore
) -> None:
    workflow_id = _funnel(event_store, tenant, client)
    sign_in(client, tenant)
    bad = client.get(f"/console/workflows/{workflow_id}", params={"start": "soon"})
    assert bad.status_code == 400
    assert bad.headers["content-type"].startswith("text/html")
    assert client.get(f"/console/workflows/{workflow_id}", params={"step": "x"}).status_code == 404
    sign_in(client, new_tenant())
    assert client.get(f"/console/workflows/{workflow_id}").status_code == 404
    assert client.get(f"/console/workflows/{workflow_id}/download").status_code == 404


def test_explorer_shows_the_fetch_answer_and_its_json(
    client: TestClient, tenant: Tenant, event_store: EventStore
) -> None:
    _funnel(event_store, tenant, client)
    form = {
        "vendor": "com.giosg.interaction",
        "granularity": "day",
        "aggregation": "count",
        "group_by": "dim4",
        "filter0": "category",
        "value0": "Interaction",
        **DAY,
    }
    sign_in(client, tenant)
    page = client.get("/console/explorer", params=form)
    assert page.status_code == 200
    body = {
        "vendor": "com.giosg.interaction",
        "granularity": "day",
        "aggregations": ["count"],
        "interval": {"start": "2022-11-03T00:00:00Z", "end": "2022-11-04T00:00:00Z"},
        "group_by": ["dim4"],
        "filters": {"type": "selector", "dimension": "category", "value": "Interaction"},
    }
    api = client.post(
        f"/api/events/v2/orgs/{tenant.org_id}/fetch", json=body, headers=tenant.headers
    ).json()
    assert [row[1:] for row in api["data"]] == [["Step 0", 3], ["Step 1", 2], ["Step 2", 1]]
    for row in api["data"]:
        assert f"<td>{row[1]}</td><td>{row[2]}</td>" in page.text
    assert "&#34;group_by&#34;: [\n    &#34;dim4&#34;\n  ]" in page.text  # the JSON to copy
    assert "<svg" in page.text


def test_explorer_shows_the_apis_refusal(client: TestClient, tenant: Tenant) -> None:
    sign_in(client, tenant)
    page = client.get(
        "/console/explorer", params={"vendor": "x", "start": "2022-11-05", "end": "2022-11-04"}
    )
    assert page.status_code == 400
    assert 'id="interval-error"' in page.text


def test_exports_start_list_status_and_link(client: TestClient, tenant: Tenant) -> None:
    api = ExportApi(client, tenant)
    room_id = api.room()
    csrf = sign_in(client, tenant)
    form = {
        "type": "stats",
        "format": "txt",  # refused: stats are CSV or XLSX
        "room_id": room_id,
        "starting_at": "2024-03-01",
        "ending_at": "2024-04-01",
    }
    refused = post_form(client, "/console/exports", csrf, form)
    assert refused.status_code == 400
    assert "must be csv or xlsx for an export of type stats" in refused.text
    logs = {**form, "type": "logs", "format": "csv"}
    for count in ("\u00b2", "9" * 5000, "-1", "1.5"):  # a superscript two is a digit to str
        bad = post_form(client, "/console/exports", csrf, {**logs, "min_message_count": count})
        assert bad.status_code == 400, count
    assert api.page()["results"] == []
    started = post_form(client, "/console/exports", csrf, {**form, "format": "xlsx"})
    assert started.status_code == 303
    (export,) = api.page()["results"]
    assert (export["type"], export["format"], export["starting_at"]) == (
        "stats",
        "xlsx",
        "2024-03-01T00:00:00.000Z",
    )
    page = client.get("/console/exports").text
    assert f'data-refresh="/console/exports/{export["id"]}/status"' in page
    status = client.get(f"/console/exports/{export['id']}/status")
    assert status.status_code == 200
    assert "in progress" in status.text
    assert "data-done" not in status.text


def test_exports_are_the_users_own(
    client: TestClient, tenant: Tenant, new_tenant: Callable[..., Tenant]
) -> None:
    api = ExportApi(client, tenant)
    export = api.start(
        {
            "type": "stats",
            "format": "csv",
            "room_id": api.room(),
            "starting_at": f"{datetime.now(UTC) - timedelta(days=2):%Y-%m-%dT00:00:00Z}",
            "ending_at": f"{datetime.now(UTC):%Y-%m-%dT00:00:00Z}",
        }
    )
    sign_in(client, new_tenant())
    assert client.get(f"/console/exports/{export['id']}/status").status_code == 404
    assert export["id"] not in client.get("/console/exports").text


def test_a_picked_path_is_the_apis_step_data(
    client: TestClient, tenant: Tenant, event_store: EventStore
) -> None:
    workflow_id = _funnel(event_store, tenant, client)
    interval = {k: f"{v}T00:00:00Z" for k, v in DAY.items()}
    step_data = [{}, {"actions": ["elsewhere"]}]  # no session passes step 1 this way
    api = client.post(
        f"{reporting(tenant)}/workflows/{workflow_id}/query",
        json={"filters": [], "interval": interval, "step_data": step_data},
        headers=tenant.headers,
    ).json()
    assert [step["sessions"] for step in api["steps"]] == [3]  # not the [3, 2, 1] of no path
    sign_in(client, tenant)
    params = [*DAY.items(), ("step", "2"), ("path", "1:elsewhere")]
    page = client.get(f"/console/workflows/{workflow_id}", params=params)
    assert page.status_code == 200
    assert ">3</text>" in page.text  # the funnel: step 0 only
    assert "(67%)" not in page.text
    assert "Clear the path" in page.text
    assert "&amp;path=1%3Aelsewhere" in page.text  # kept in the links
    for odd in ("\u00b2:a", "999999999:a", "9" * 5000 + ":a", ":a", "1:"):  # passed over
        plain = client.get(
            f"/console/workflows/{workflow_id}", params=[*DAY.items(), ("path", odd)]
        )
        assert plain.status_code == 200, odd
        assert "(67%)" in plain.text  # the funnel of no path
    console = client.get(
        f"/console/workflows/{workflow_id}/download", params=[*params, ("format", "csv")]
    )
    file = client.post(
        f"{reporting(tenant)}/workflows/{workflow_id}/step/2/download",
        json={
            "filters": [],
            "interval": interval,
            "step_data": step_data,
            "basic": True,
            "format": "csv",
        },
        headers=tenant.headers,
    )
    assert console.status_code == file.status_code == 200
    assert console.content == file.content
    assert len(file.content.decode("utf-8-sig").splitlines()) == 1  # the header alone
    ticked = client.get(
        f"/console/workflows/{workflow_id}", params=[*DAY.items(), ("path", "1:view-1")]
    ).text
    assert 'value="1:view-1" id="path-1-1" checked' in ticked
    assert 'value="2:view-2" id="path-2-1">' in ticked  # offered, not ticked
