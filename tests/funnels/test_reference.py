"""The HTTP API against the plain-Python reference, on random sessions (hypothesis): the
path rule, ``triggered_goal``, ``affected_goal`` and ``affected_goal_total``, with random
``step_data``, ``filters``, ``limit`` and ``basic``."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tallybook.events.records import StoredEvent
from tallybook.events.store import EventStore
from tallybook.kit.db import Database
from tests.fixtures.tenants import make_tenant
from tests.funnels import reference
from tests.funnels.factories import create_workflow, source_url, step_url
from tests.funnels.strategies import END, START, TYPES, Scenario, scenarios


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


def _expected(
    scenario: Scenario, found: list[StoredEvent], limit: int | None, basic: bool
) -> list[dict[str, Any]]:
    rows = reference.ordered(found)[:limit]
    if basic:
        return [reference.basic_object(e, scenario.question.workflow_id) for e in rows]
    return [reference.raw_object(e) for e in rows]


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
    assert step_data.json()["data"] == _expected(scenario, found, limit, basic)

    triggered = ask(step_url(tenant, workflow, step), "triggered_goal")
    found = reference.triggered_goals(q, events, step)
    event(f"triggered goals: {min(len(found), 3)}")
    assert triggered.json()["data"] == _expected(scenario, found, limit, basic)

    for target, answer in (
        ("affected_goal", reference.affected_goals),
        ("affected_goal_total", reference.all_goals),
    ):
        response = ask(source_url(tenant, workflow), target)
        if kind != "interaction":
            assert response.status_code == 406
            continue
        assert response.status_code == 200, response.text
        assert response.json()["data"] == _expected(scenario, answer(q, events), limit, basic)
