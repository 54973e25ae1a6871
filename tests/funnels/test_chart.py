"""The funnel chart (``POST …/workflows/{wf}/query/``) over HTTP: a worked example, the
plain-Python reference over random sessions, agreement with step source data, every status
code, tenancy, and the SQL's rendering on every dialect."""

from __future__ import annotations

import re
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlglot
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tallybook.app import create_app
from tallybook.events.engines.duckdb.store import DuckDBEventStore
from tallybook.events.engines.runner import QueryRunner
from tallybook.events.query.dialects import DIALECTS, DialectName
from tallybook.events.query.render import render_relation
from tallybook.events.store import EventStore
from tallybook.funnels.charts import LINK, ChartEvents, ChartPlan, chart_links, chart_steps
from tallybook.funnels.paths import StepPath, WorkflowScope
from tallybook.funnels.schemas import PropertyFilter
from tallybook.kit.db import Database
from tests.fixtures.tenants import Tenant, add_user, make_tenant
from tests.funnels import reference
from tests.funnels.factories import (
    T0,
    chart_url,
    create_workflow,
    goal_event,
    payload,
    step_event,
    step_url,
)
from tests.funnels.strategies import END, START, TYPES, scenarios


def at(seconds: float) -> Any:
    return T0 + timedelta(seconds=seconds)


def post(client: TestClient, tenant: Tenant, url: str, body: Any) -> Any:
    return client.post(url, json=body, headers=tenant.headers)


def chart(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"steps", "links"}
    return dict(body)


@pytest.fixture
def workflow(client: TestClient, tenant: Tenant, event_store: EventStore) -> uuid.UUID:
    """Three sessions through a source step and two steps of an interaction workflow."""
    wf = create_workflow(client, tenant, "interaction")
    org = tenant.org_id

    def ev(step: int, seconds: float, session: str, visitor: str, action: str) -> Any:
        return step_event(org, wf, step, at(seconds), session_id=session, visitor_id=visitor,
                          action=action, dim4=f"Step {step}")  # fmt: skip

    event_store.insert(
        [
            ev(0, 1, "s1", "v1", "landing"),
            ev(0, 1, "s2", "v2", "landing"),
            ev(0, 2, "s3", "v2", "landing"),
            ev(0, 3, "s1", "v1", "landing"),
            ev(1, 4, "s1", "v1", "a"),
            ev(1, 5, "s2", "v2", "b"),
            ev(1, 1, "s3", "v2", "a"),
            ev(2, 6, "s1", "v1", "x"),
            ev(2, 6, "s1", "v1", "x"),
            ev(2, 4, "s2", "v2", "x"),  # before s2's step-1 event: no link b → x
            ev(2, 7, "s3", "v2", "y"),
            step_event(org, wf, 1, at(8), session_id="s1", dim5="01"),  # no step's event
            goal_event(org, "goal-1", at(9), session_id="s1", visitor_id="v1"),
        ]
    )
    return wf


def test_a_worked_chart(client: TestClient, tenant: Tenant, workflow: uuid.UUID) -> None:
    got = chart(post(client, tenant, chart_url(tenant, workflow), payload()))
    assert got["steps"] == [
        {"index": 0, "name": "Step 0", "events": 4, "visitors": 2, "sessions": 3,
         "conversion": 1.0, "actions": [
             {"action": "landing", "events": 4, "visitors": 2, "sessions": 3}]},
        {"index": 1, "name": "Step 1", "events": 3, "visitors": 2, "sessions": 3,
         "conversion": 1.0, "actions": [
             {"action": "a", "events": 2, "visitors": 2, "sessions": 2},
             {"action": "b", "events": 1, "visitors": 1, "sessions": 1}]},
        {"index": 2, "name": "Step 2", "events": 4, "visitors": 2, "sessions": 3,
         "conversion": 1.0, "actions": [
             {"action": "x", "events": 3, "visitors": 2, "sessions": 2},
             {"action": "y", "events": 1, "visitors": 1, "sessions": 1}]},
    ]  # fmt: skip
    assert got["links"] == [
        {"from_step": 0, "from_action": "landing", "to_step": 1, "to_action": "a", "sessions": 1},
        {"from_step": 0, "from_action": "landing", "to_step": 1, "to_action": "b", "sessions": 1},
        {"from_step": 1, "from_action": "a", "to_step": 2, "to_action": "x", "sessions": 1},
        {"from_step": 1, "from_action": "a", "to_step": 2, "to_action": "y", "sessions": 1},
    ]  # s3 reached step 1 (at 1) before the source (at 2): no link landing → a for it


def test_step_data_filters_and_interval_narrow_the_chart(
    client: TestClient, tenant: Tenant, workflow: uuid.UUID
) -> None:
    path = payload(step_data=[{}, {"actions": ["a"]}])
    got = chart(post(client, tenant, chart_url(tenant, workflow), path))
    assert [(s["index"], s["sessions"]) for s in got["steps"]] == [(0, 3), (1, 2), (2, 2)]
    assert [a["action"] for a in got["steps"][2]["actions"]] == ["x", "y"]
    assert got["steps"][2]["conversion"] == 2 / 3

    filtered = payload(filters=[{"property": "session_id", "values": ["s2"]}])
    got = chart(post(client, tenant, chart_url(tenant, workflow), filtered))
    assert [(s["index"], s["events"]) for s in got["steps"]] == [(0, 1), (1, 1), (2, 1)]
    assert got["links"] == [
        {"from_step": 0, "from_action": "landing", "to_step": 1, "to_action": "b", "sessions": 1}
    ]

    later = payload(interval={"start": at(3.5).isoformat(), "end": at(100).isoformat()})
    got = chart(post(client, tenant, chart_url(tenant, workflow), later))
    assert [s["index"] for s in got["steps"]] == [1, 2]
    assert all(s["conversion"] is None for s in got["steps"])  # no source step: no base

    empty = payload(interval={"start": at(-100).isoformat(), "end": at(-50).isoformat()})
    assert chart(post(client, tenant, chart_url(tenant, workflow), empty)) == {
        "steps": [],
        "links": [],
    }


def test_step_data_is_ignored_by_other_workflow_types(
    client: TestClient, tenant: Tenant, event_store: EventStore
) -> None:
    wf = create_workflow(client, tenant, "chat")
    org = tenant.org_id
    event_store.insert([step_event(org, wf, 1, at(1), action="a"), step_event(org, wf, 1, at(2))])
    body = payload(step_data=[{}, {"actions": ["a"]}])
    got = chart(post(client, tenant, chart_url(tenant, wf), body))
    assert got["steps"][0]["events"] == 2


def assert_chart_is_the_step_rows(
    client: TestClient, tenant: Tenant, workflow: uuid.UUID, body: dict[str, Any]
) -> dict[str, Any]:
    """For each step on the chart, its events per action are the step endpoint's rows."""
    got = chart(post(client, tenant, chart_url(tenant, workflow), body))
    for step in got["steps"]:
        response = post(client, tenant, step_url(tenant, workflow, step["index"]), body)
        assert response.status_code == 200, response.text
        rows = Counter(row["action"] for row in response.json()["data"])
        assert rows == {a["action"]: a["events"] for a in step["actions"]}
        assert step["events"] == sum(rows.values())
    return got


def test_the_chart_counts_the_step_endpoints_rows(
    client: TestClient, tenant: Tenant, workflow: uuid.UUID
) -> None:
    for body in (
        payload(),
        payload(step_data=[{}, {"actions": ["a"]}, {"actions": ["y"]}]),
        payload(filters=[{"property": "visitor_id", "values": ["v2"]}]),
    ):
        assert assert_chart_is_the_step_rows(client, tenant, workflow, body)["steps"]


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data(), kind=st.sampled_from(TYPES))
def test_the_chart_agrees_with_the_reference(
    client: TestClient,
    database: Database,
    event_store: EventStore,
    data: st.DataObject,
    kind: str,
) -> None:
    tenant = make_tenant(database)
    workflow = create_workflow(client, tenant, kind)
    scenario = data.draw(scenarios(tenant.org_id, workflow, kind))
    if scenario.events:
        event_store.insert(scenario.events)
    q = scenario.question
    body: dict[str, Any] = {
        "filters": q.filters,
        "interval": {"start": START.isoformat(), "end": END.isoformat()},
    }
    if q.step_data is not None:
        body["step_data"] = [{"actions": actions} for actions in q.step_data]
    got = assert_chart_is_the_step_rows(client, tenant, workflow, body)
    wanted = reference.chart(q, scenario.events)
    event(f"steps: {len(wanted['steps'])}, links: {min(len(wanted['links']), 3)}")
    assert got == wanted


# -- refusals -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {"filters": []},
        {"interval": {"start": "2022-11-03T00:00:00Z", "end": "2022-11-04T00:00:00Z"}},
        payload(limit=10),
        payload(basic=True),
        payload(target="default"),
        payload(interval={"start": "2022-11-04T00:00:00Z", "end": "2022-11-03T00:00:00Z"}),
        payload(interval={"start": "2020-01-01T00:00:00Z", "end": "2022-01-01T00:00:00Z"}),
        payload(step_data=[{"actions": "a"}]),
        payload(step_data={}),
        payload(filters=[{"property": "action", "values": []}]),
        payload(filters=[{"property": "value", "values": ["many"]}]),
        [],
        "text",
    ],
)
def test_bad_payloads_are_400(
    client: TestClient, tenant: Tenant, workflow: uuid.UUID, body: Any
) -> None:
    response = post(client, tenant, chart_url(tenant, workflow), body)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "invalid"


def test_malformed_json_is_400(client: TestClient, tenant: Tenant, workflow: uuid.UUID) -> None:
    response = client.post(
        chart_url(tenant, workflow),
        content=b"{not json",
        headers={**tenant.headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 400, response.text


def test_a_body_of_another_type_is_415_and_a_huge_one_413(
    client: TestClient, tenant: Tenant, workflow: uuid.UUID
) -> None:
    url = chart_url(tenant, workflow)
    typed = client.post(
        url, content=b"filters=", headers={**tenant.headers, "Content-Type": "text/plain"}
    )
    assert typed.status_code == 415, typed.text
    assert typed.json()["code"] == "unsupported_media_type"
    huge = client.post(
        url,
        content=b'{"filters": [], "x": "' + b"a" * (11 * 1024 * 1024) + b'"}',
        headers={**tenant.headers, "Content-Type": "application/json"},
    )
    assert huge.status_code == 413, huge.text[:200]
    assert huge.json()["code"] == "payload_too_large"


def test_an_unknown_property_is_406(
    client: TestClient, tenant: Tenant, workflow: uuid.UUID
) -> None:
    body = payload(filters=[{"property": "Browser", "values": ["Edge"]}])
    response = post(client, tenant, chart_url(tenant, workflow), body)
    assert response.status_code == 406, response.text
    assert response.json()["code"] == "not_acceptable"


def test_unknown_workflows_are_404(
    client: TestClient, tenant: Tenant, new_tenant: Callable[..., Tenant]
) -> None:
    theirs = create_workflow(client, new_tenant())
    for wf in (uuid.uuid4(), theirs, "not-a-uuid"):
        response = post(client, tenant, chart_url(tenant, wf), payload())
        assert response.status_code == 404, response.text
        assert response.json()["code"] == "not_found"
    # the body is judged before the path's objects are looked up
    assert post(client, tenant, chart_url(tenant, theirs), {"filters": []}).status_code == 400


def test_with_or_without_the_trailing_slash(
    client: TestClient, tenant: Tenant, workflow: uuid.UUID
) -> None:
    url = chart_url(tenant, workflow)
    assert chart(post(client, tenant, url, payload())) == chart(
        post(client, tenant, url.rstrip("/"), payload())
    )


def test_refusals_come_in_order(
    client: TestClient,
    database: Database,
    tenant: Tenant,
    new_tenant: Callable[..., Tenant],
    workflow: uuid.UUID,
) -> None:
    """401 → 403 subscription → 403 organisation → 403 permission → 404."""
    inactive = new_tenant(active=False)
    other = new_tenant()
    settings_only = add_user(database, tenant, permissions=["settings"])
    callers = [
        ({}, 401, "not_authenticated"),
        ({"Authorization": "Token tb_nope"}, 401, "not_authenticated"),
        (inactive.headers, 403, "subscription_inactive"),
        (other.headers, 403, "organization_forbidden"),
        (settings_only.headers, 403, "permission_denied"),
    ]
    for url in (chart_url(tenant, workflow), chart_url(tenant, uuid.uuid4())):
        for body in (payload(), {"filters": [{"property": "nope", "values": [1]}]}, {}):
            for headers, status, code in callers:
                response = client.post(url, json=body, headers=headers)
                assert response.status_code == status, (url, headers, response.text)
                assert response.json()["code"] == code


def test_another_organisations_events_stay_theirs(
    client: TestClient,
    tenant: Tenant,
    new_tenant: Callable[..., Tenant],
    event_store: EventStore,
    workflow: uuid.UUID,
) -> None:
    """Events another organisation labels with this workflow's id never count here, and
    this organisation's chart is not theirs."""
    before = chart(post(client, tenant, chart_url(tenant, workflow), payload()))
    other = new_tenant()
    event_store.insert(
        [
            step_event(other.org_id, workflow, 1, at(4.5), session_id="s1", visitor_id="v1"),
            step_event(other.org_id, workflow, 2, at(5), session_id="s1", visitor_id="v1"),
        ]
    )
    assert chart(post(client, tenant, chart_url(tenant, workflow), payload())) == before
    response = post(client, other, chart_url(other, workflow), payload())
    assert response.status_code == 404


def test_an_engine_failure_is_a_generic_500(
    database: Database, tenant: Tenant, tmp_path: Path
) -> None:
    broken = DuckDBEventStore(tmp_path / "events.duckdb")
    app = create_app(database.settings, database, broken)
    with TestClient(app, raise_server_exceptions=False) as client:
        wf = create_workflow(client, tenant)
        broken.close()
        response = post(client, tenant, chart_url(tenant, wf), payload())
    assert response.status_code == 500
    body = response.json()
    assert body["code"] == "internal_error"
    assert "SELECT" not in response.text and "events" not in body["detail"]


def test_the_openapi_document_describes_the_chart(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    (path,) = [p for p in document["paths"] if p.endswith("/query")]
    operation = document["paths"][path]["post"]
    assert set(operation["responses"]) >= {"200", "400", "401", "403", "404", "406"}
    answer = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert answer == {"$ref": "#/components/schemas/ChartResponse"}
    schemas = document["components"]["schemas"]
    assert set(schemas["ChartResponse"]["properties"]) == {"steps", "links"}
    assert "conversion" in schemas["ChartStep"]["properties"]
    assert "requestBody" in operation


# -- the SQL ------------------------------------------------------------------------------

FILTERS = (PropertyFilter.model_validate({"property": "device_type", "values": ["mobile"]}),)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_every_dialect_parses_the_chart(dialect: DialectName) -> None:
    scope = WorkflowScope(uuid.uuid4(), uuid.uuid4(), START, END)
    events = ChartEvents(scope, StepPath.of("interaction", [[], ["a", "b"], [], ["d"]]), FILTERS)
    plan = ChartPlan(events)
    rendered = render_relation(plan, dialect)
    assert sqlglot.parse_one(rendered.sql, read=dialect).sql(dialect=dialect)
    # Tenancy inside the query: every read of the table is bound to the organisation.
    reads = len(re.findall(r"\bFROM events AS e\b", rendered.sql, flags=re.IGNORECASE))
    scoped = rendered.sql.count('"e"."organization_id" =') + rendered.sql.count(
        "`e`.`organization_id` ="
    )
    assert reads >= 1 and scoped == reads, rendered.sql
    assert [v for v in rendered.params.values() if v == scope.organization_id] == [
        scope.organization_id
    ] * reads


def test_the_statement_on_every_engine(store: QueryRunner) -> None:
    """One statement's rows, part by part, on each engine: a link keeps its two actions
    apart (ClickHouse once matched a union's unnamed columns by name and answered the
    later step's ``dim5`` as its action), and a ``dim5`` that is no step index is never
    linked."""
    org, wf = uuid.uuid4(), uuid.uuid4()
    store.insert(
        [
            step_event(org, wf, 2, at(1), session_id="s1", visitor_id="v1", action="a"),
            step_event(org, wf, 3, at(2), session_id="s1", visitor_id="v1", action="b"),
            step_event(org, wf, 3, at(3), session_id="s2", visitor_id="v1", action="b"),
            step_event(org, wf, 1, at(0), session_id="s1", visitor_id="v1", dim5="01"),
            step_event(org, wf, 2, at(1), session_id="s1", visitor_id="v1", dim5="x"),
        ]
    )
    rows = store.relation_rows(
        ChartPlan(ChartEvents(WorkflowScope(org, wf, START, END), StepPath()))
    )
    links = [row[:7] for row in rows if row[0] == LINK]
    assert links == [(LINK, "2", "a", "3", "b", 1, 1)]
    steps = chart_steps(rows)
    assert [(s["index"], s["events"], s["visitors"], s["sessions"]) for s in steps] == [
        (2, 1, 1, 1),
        (3, 2, 1, 2),
    ]
    assert steps[1]["actions"] == [{"action": "b", "events": 2, "visitors": 1, "sessions": 2}]


# Ids a hash of the session (ClickHouse groups and joins on one) must tell apart: empty,
# blank, case and trailing-space twins, composed and decomposed é, long ones differing in
# the last character, emoji, and the text "null" beside a missing id.
AWKWARD_IDS = [
    "",
    " ",
    "s",
    "S",
    "s ",
    "\u00e9",
    "e\u0301",
    "\u00df",
    "ss",
    "x" * 1000,
    "x" * 999 + "y",
    "\U0001f600",
    "null",
]


@pytest.mark.parametrize(
    "step_data", [None, [[], ["a"], ["b", "c"], []], [[], [], ["a", "c"]]], ids=str
)
def test_awkward_session_and_visitor_ids_agree_with_the_reference(
    store: QueryRunner, step_data: list[list[str]] | None
) -> None:
    """The chart's statement on every engine against the plain-Python reference, with
    sessions and visitors named by :data:`AWKWARD_IDS` (and missing): counted apart and
    linked only to themselves, whatever the engine groups them by."""
    org, wf = uuid.uuid4(), uuid.uuid4()
    ids: list[str | None] = [*AWKWARD_IDS, None]
    visits = [(0, "a"), (1, "a"), (2, "b"), (1, "a"), (3, "d")]
    events = []
    for i, session in enumerate(ids):
        visitor = ids[(i * 5) % len(ids)]
        for n, (step, action) in enumerate(visits[: 2 + i % 4]):
            if step == 1 and i % 3 == 0:
                action = "b"
            elif step == 2 and i % 2:
                action = "c"
            early = 25 if step == 2 and i % 5 == 0 else 0  # before its step 1
            fields = {"session_id": session, "visitor_id": visitor, "action": action}
            events.append(step_event(org, wf, step, at(n * 10 + i % 7 - early), **fields))
    store.insert(events)
    q = reference.Question(org, wf, "interaction", START, END, step_data=step_data)
    scope = WorkflowScope(org, wf, START, END)
    rows = store.relation_rows(ChartPlan(ChartEvents(scope, StepPath.of("interaction", step_data))))
    wanted = reference.chart(q, events)
    assert wanted["links"], "the scenario links sessions"
    assert {"steps": chart_steps(rows), "links": chart_links(rows)} == wanted
