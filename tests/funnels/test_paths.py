"""The SQL layer of workflow reporting: the path rule and the goal relations, run in the
event store and checked against the plain-Python reference; rendered for every dialect."""

from __future__ import annotations

import re
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
import sqlglot
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlglot import exp

from tallybook.events.engines.runner import QueryRunner
from tallybook.events.query.dialects import DIALECTS, DialectName
from tallybook.events.query.render import Renderer, render_relation
from tallybook.events.records import StoredEvent
from tallybook.funnels.fields import RAW_FIELDS
from tallybook.funnels.paths import StepPath, WorkflowScope, qualifying_step_events
from tallybook.funnels.plans import SourceRowsPlan
from tallybook.funnels.schemas import PropertyFilter
from tallybook.funnels.types import Rows
from tests.funnels import reference
from tests.funnels.factories import T0, goal_event, step_event
from tests.funnels.strategies import END, START, Scenario, scenarios

COLUMNS = ("timestamp", "dim5", "action", "session_id", "visitor_id", "label", "category")


def _path(scenario: Scenario) -> StepPath:
    return StepPath.of(scenario.question.workflow_type, scenario.question.step_data)


def _plan(scenario: Scenario, rows: Rows, step: int | None = None) -> SourceRowsPlan:
    q = scenario.question
    return SourceRowsPlan(
        rows=rows,
        scope=WorkflowScope(q.organization_id, q.workflow_id, q.start, q.end),
        path=_path(scenario),
        columns=COLUMNS,
        filters=tuple(PropertyFilter.model_validate(f) for f in q.filters),
        step=step,
    )


def _key(e: StoredEvent) -> tuple[Any, ...]:
    naive = e.timestamp.replace(tzinfo=None)
    return (naive, e.dim5, e.action, e.session_id, e.visitor_id, e.label, e.category)


@dataclass(frozen=True)
class AllSteps:
    """The path rule over every step at once, as the funnel chart reads it."""

    scenario: Scenario

    def select(self, sql: Renderer) -> exp.Select:
        q = self.scenario.question
        scope = WorkflowScope(q.organization_id, q.workflow_id, q.start, q.end)
        return qualifying_step_events(sql, scope, _path(self.scenario), step=None, columns=COLUMNS)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_relations_agree_with_the_reference(store: QueryRunner, data: st.DataObject) -> None:
    org, workflow = uuid.uuid4(), uuid.uuid4()
    scenario = data.draw(scenarios(org, workflow))
    if scenario.events:
        store.insert(scenario.events)
    q, events, step = scenario.question, scenario.events, scenario.step
    expected = {
        Rows.STEP: reference.step_rows(q, events, step),
        Rows.TRIGGERED_GOAL: reference.triggered_goals(q, events, step),
        Rows.AFFECTED_GOAL: reference.affected_goals(q, events),
        Rows.ALL_GOALS: reference.all_goals(q, events),
    }
    for rows, wanted in expected.items():
        event(f"{rows}: {min(len(wanted), 3)}")
        plan = _plan(scenario, rows, step if rows in (Rows.STEP, Rows.TRIGGERED_GOAL) else None)
        got = store.relation_rows(plan)
        assert got == [_key(e) for e in reference.ordered(wanted)], rows
    every_step = [
        e for e in events if reference._is_step_event(q, e) and reference.counts(q, events, e)
    ]
    got = store.relation_rows(AllSteps(scenario))
    assert Counter(got) == Counter(_key(e) for e in every_step)


def test_a_three_step_path_by_hand(store: QueryRunner) -> None:
    """Session 1 passes a then c then reaches step 3; session 2 skips step 2; session 3
    passes step 2 only after its step 3 event; session 4 does all at one instant."""
    org, wf = uuid.uuid4(), uuid.uuid4()

    def at(seconds: int) -> datetime:
        return T0 + timedelta(seconds=seconds)

    events = [
        step_event(org, wf, 1, at(1), action="a", session_id="s1"),
        step_event(org, wf, 2, at(2), action="c", session_id="s1"),
        step_event(org, wf, 3, at(3), action="x", session_id="s1"),
        goal_event(org, "g", at(4), session_id="s1"),
        step_event(org, wf, 1, at(1), action="a", session_id="s2"),
        step_event(org, wf, 3, at(3), action="x", session_id="s2"),
        goal_event(org, "g", at(5), session_id="s2"),
        step_event(org, wf, 1, at(1), action="b", session_id="s3"),
        step_event(org, wf, 3, at(3), action="x", session_id="s3"),
        step_event(org, wf, 2, at(4), action="c", session_id="s3"),
        # "at or before": passing step 1 and 2 at the very instant of step 3 counts, and so
        # does a goal at that same instant
        step_event(org, wf, 1, at(6), action="b", session_id="s4"),
        step_event(org, wf, 2, at(6), action="c", session_id="s4"),
        step_event(org, wf, 3, at(6), action="x", session_id="s4"),
        goal_event(org, "g", at(6), session_id="s4"),
    ]
    store.insert(events)
    path = StepPath.of("interaction", [[], ["a", "b"], ["c"]])
    scope = WorkflowScope(org, wf, START, END)
    plan = SourceRowsPlan(Rows.STEP, scope, path, ("session_id",), step=3)
    assert store.relation_rows(plan) == [("s1",), ("s4",)]
    goals = SourceRowsPlan(Rows.TRIGGERED_GOAL, scope, path, ("session_id",), step=3)
    assert store.relation_rows(goals) == [("s1",), ("s4",)]
    no_path = SourceRowsPlan(Rows.STEP, scope, StepPath(), ("session_id",), step=3)
    assert store.relation_rows(no_path) == [("s1",), ("s2",), ("s3",), ("s4",)]


@pytest.mark.parametrize("steps", [None, [[], ["a"]]], ids=["no path", "a path"])
def test_an_event_of_no_step_affects_no_goal(store: QueryRunner, steps: Any) -> None:
    """DESIGN §7: step events are those whose ``dim5`` is a step index. One of the
    workflow whose ``dim5`` is spelled otherwise is on no step (the chart and the step
    endpoint never show it), so its visitor's later goals are not affected by it."""
    org, wf = uuid.uuid4(), uuid.uuid4()
    events = [
        step_event(org, wf, 1, T0, action="a", visitor_id="v1", dim5="not-a-step"),
        step_event(org, wf, 1, T0, action="a", visitor_id="v2", dim5="03"),
        step_event(org, wf, 1, T0, action="a", visitor_id="v3"),
        *(
            goal_event(org, "g", T0 + timedelta(minutes=1), visitor_id=v)
            for v in ("v1", "v2", "v3")
        ),
    ]
    store.insert(events)
    path = StepPath.of("interaction", steps)
    plan = SourceRowsPlan(
        Rows.AFFECTED_GOAL, WorkflowScope(org, wf, START, END), path, ("visitor_id",)
    )
    assert store.relation_rows(plan) == [("v3",)]


def test_step_data_is_read_by_the_workflow_type() -> None:
    steps = [["ignored"], ["a", "a", "b"], [], ["c"], [], []]
    path = StepPath.of("web_navigation", steps)
    assert path.actions == ((), ("a", "b"), (), ("c",))
    assert path.listed(0) == () and path.listed(1) == ("a", "b") and path.listed(9) == ()
    assert path.required_before(1) == []
    assert path.required_before(4) == [1, 3]
    assert path.required_before(99) == [1, 3]
    assert path.last == 3
    for kind in ("voice_video", "chat", "user_generated"):
        assert StepPath.of(kind, steps) == StepPath()
    assert StepPath.of("interaction", None) == StepPath()
    assert StepPath.of("interaction", [["x"]]).last == 0


FILTERS = [
    {"property": "properties", "values": ["x", None]},
    {"property": "timestamp", "values": ["2022-11-03T00:00:03.000Z"]},
    {"property": "value", "values": [1, "2.5"]},
    {"property": "event_version", "values": [1]},
    {"property": "dim2", "values": [None]},
    {"property": "partner_organization_ids", "values": ["p"]},
]


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize(
    ("rows", "step"),
    [
        (Rows.STEP, 0),
        (Rows.STEP, 3),
        (Rows.TRIGGERED_GOAL, 2),
        (Rows.AFFECTED_GOAL, None),
        (Rows.ALL_GOALS, None),
    ],
)
def test_every_dialect_parses_the_rendering(
    dialect: DialectName, rows: Rows, step: int | None
) -> None:
    scope = WorkflowScope(uuid.uuid4(), uuid.uuid4(), START, END)
    plan = SourceRowsPlan(
        rows=rows,
        scope=scope,
        path=StepPath.of("interaction", [[], ["a", "b"], ["c"], [], ["d"]]),
        columns=RAW_FIELDS,
        filters=tuple(PropertyFilter.model_validate(f) for f in FILTERS),
        step=step,
        limit=10,
    )
    rendered = render_relation(plan, dialect)
    parsed = sqlglot.parse_one(rendered.sql, read=dialect)
    assert parsed.sql(dialect=dialect)
    # Tenancy inside the query: every read of the table is bound to the organisation.
    reads = len(re.findall(r"\bFROM events AS e\b", rendered.sql, flags=re.IGNORECASE))
    scoped = rendered.sql.count('"e"."organization_id" =') + rendered.sql.count(
        "`e`.`organization_id` ="
    )
    assert reads >= 1 and scoped == reads, rendered.sql
    org_params = [k for k, v in rendered.params.items() if v == scope.organization_id]
    assert len(org_params) == reads


@pytest.mark.parametrize("dialect", DIALECTS)
def test_the_path_rule_over_every_step_parses(dialect: DialectName) -> None:
    path = StepPath.of("interaction", [[], ["a"], [], ["c", "d"]])
    scope = WorkflowScope(uuid.uuid4(), uuid.uuid4(), START, END)

    @dataclass(frozen=True)
    class Every:
        def select(self, sql: Renderer) -> exp.Select:
            return qualifying_step_events(sql, scope, path, step=None, columns=RAW_FIELDS)

    rendered = render_relation(Every(), dialect)
    sqlglot.parse_one(rendered.sql, read=dialect)
    assert "CASE" in rendered.sql.upper()


def test_client_text_never_reaches_the_sql() -> None:
    hostile = "x'); DROP TABLE events; --"
    scope = WorkflowScope(uuid.uuid4(), uuid.uuid4(), START, END)
    plan = SourceRowsPlan(
        rows=Rows.STEP,
        scope=scope,
        path=StepPath.of("interaction", [[], [hostile], [hostile]]),
        columns=("action",),
        filters=(PropertyFilter.model_validate({"property": "action", "values": [hostile]}),),
        step=2,
    )
    rendered = render_relation(plan, DialectName.DUCKDB)
    assert "DROP" not in rendered.sql
    assert list(rendered.params.values()).count(hostile) == 3
