"""The HTTP API against the plain-Python reference, on random sessions (hypothesis), on
every event engine: the path rule, ``triggered_goal``, ``affected_goal`` and
``affected_goal_total`` with random ``step_data``, ``filters``, ``limit`` and ``basic``,
and the funnel chart."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tallybook.events.records import StoredEvent
from tallybook.events.store import EventStore
from tallybook.kit.db import Database
from tests.fixtures.engines import event_engines
from tests.fixtures.tenants import make_tenant
from tests.funnels import reference
from tests.funnels.factories import chart_url, create_workflow, source_url, step_url
from tests.funnels.strategies import END, START, TYPES, Scenario, scenarios

event_store, app = event_engines(module_app=True)


def _body(scenario: Scenario, limit: int | None, basic: bool, target: str) -> dict[str, Any]:
    q = scenario.question
    body: dict[str, Any] = {
        "filters": q.filters,
        "interval": {"start": START.isoformat(), "end": END.isoformat()},
        "basic": basic,
        "target": target,
    }
    if q.step_data is not None:
        body["step_data"] = [{"actions": actions} for actions in q.step_data]
    if limit is not None:
        body["limit"] = limit
    return body


def _shown(scenario: Scenario, event: StoredEvent, basic: bool) -> dict[str, Any]:
    if basic:
        return reference.basic_object(event, scenario.question.workflow_id)
    return reference.raw_object(event)


def assert_same_answer(
    got: list[dict[str, Any]],
    scenario: Scenario,
    found: list[StoredEvent],
    limit: int | None,
    basic: bool,
) -> None:
    """The API's rows are the reference's in its order, cut at ``limit``. Events equal in
    every column the order is by (timestamp, session, visitor, step, action, label) are
    ties in no fixed order: each run of ties must hold the same rows, and the one a limit
    cuts through some of them."""
    ordered = reference.ordered(found)
    assert len(got) == len(ordered[:limit])
    start = 0
    while start < len(got):
        end = start
        while end < len(ordered) and reference.order_key(ordered[end]) == reference.order_key(
            ordered[start]
        ):
            end += 1
        wanted = Counter(_canonical(_shown(scenario, e, basic)) for e in ordered[start:end])
        seen = Counter(_canonical(row) for row in got[start:end])
        assert seen == wanted if end <= len(got) else seen <= wanted, (start, end)
        start = end


def _canonical(row: dict[str, Any]) -> str:
    return json.dumps(row, sort_keys=True)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    data=st.data(),
    kind=st.sampled_from(TYPES),
    limit=st.one_of(st.none(), st.integers(1, 6)),
    basic=st.booleans(),
)
def test_the_api_agrees_with_the_reference(
    client: TestClient,
    database: Database,
    event_store: EventStore,
    data: st.DataObject,
    kind: str,
    limit: int | None,
    basic: bool,
) -> None:
    tenant = make_tenant(database)  # goals are per organisation: a fresh one per example
    workflow = create_workflow(client, tenant, kind)
    scenario = data.draw(scenarios(tenant.org_id, workflow, kind))
    if scenario.events:
        event_store.insert(scenario.events)
    q, events, step = scenario.question, scenario.events, scenario.step

    def ask(url: str, target: str) -> Any:
        body = _body(scenario, limit, basic, target)
        return client.post(url, json=body, headers=tenant.headers)

    step_data = ask(step_url(tenant, workflow, step), "default")
    found = reference.step_rows(q, events, step)
    event(f"step rows: {min(len(found), 3)}")
    assert step_data.status_code == 200, step_data.text
    assert_same_answer(step_data.json()["data"], scenario, found, limit, basic)

    triggered = ask(step_url(tenant, workflow, step), "triggered_goal")
    found = reference.triggered_goals(q, events, step)
    event(f"triggered goals: {min(len(found), 3)}")
    assert_same_answer(triggered.json()["data"], scenario, found, limit, basic)

    for target, answer in (
        ("affected_goal", reference.affected_goals),
        ("affected_goal_total", reference.all_goals),
    ):
        response = ask(source_url(tenant, workflow), target)
        if kind != "interaction":
            assert response.status_code == 406
            continue
        assert response.status_code == 200, response.text
        assert_same_answer(response.json()["data"], scenario, answer(q, events), limit, basic)

    chart_body = _body(scenario, None, False, "")
    del chart_body["basic"], chart_body["target"]  # the chart takes neither
    response = client.post(chart_url(tenant, workflow), json=chart_body, headers=tenant.headers)
    assert response.status_code == 200, response.text
    assert response.json() == reference.chart(q, events)
