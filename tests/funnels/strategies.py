"""Random workflow sessions and questions about them (hypothesis), small enough that the
plain-Python reference stays quick and ties, gaps and strays are common."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from hypothesis import strategies as st

from tallybook.events.records import StoredEvent
from tests.funnels.factories import T0, goal_event, step_event
from tests.funnels.reference import Question, timestamp_text

ACTIONS = ["a", "b", "c"]
SESSIONS = [f"s{i}" for i in range(4)]
VISITORS = ["v0", "v1", "v2"]
START, END = T0, T0 + timedelta(hours=1)
TYPES = ["interaction", "interaction", "web_navigation", "voice_video", "chat", "user_generated"]


@dataclass(frozen=True)
class Scenario:
    events: list[StoredEvent]
    question: Question
    step: int


def _instant(seconds: float) -> Any:
    return T0 + timedelta(seconds=seconds)


times = st.integers(-3, 39).map(lambda n: n * 100)  # a few before and after; many ties
sessions = st.sampled_from([None, *SESSIONS, *SESSIONS])


@st.composite
def _common(draw: st.DrawFn) -> dict[str, Any]:
    session = draw(sessions)
    if session is None:
        visitor = draw(st.sampled_from([None, *VISITORS]))
    else:  # a session is one visitor's, mostly
        visitor = draw(st.sampled_from([VISITORS[SESSIONS.index(session) % 3]] * 3 + VISITORS))
    return {
        "session_id": session,
        "visitor_id": visitor,
        "device_type": draw(st.sampled_from([None, "desktop", "mobile"])),
        "properties": tuple(draw(st.lists(st.sampled_from(["x", "y"]), max_size=2))),
        "value": draw(st.sampled_from([1.0, 2.0])),
        "event_version": draw(st.sampled_from([1, 2])),
    }


@st.composite
def _step(draw: st.DrawFn, org: uuid.UUID, workflow: uuid.UUID) -> StoredEvent:
    label = workflow if draw(st.integers(0, 9)) else uuid.uuid4()  # another workflow
    owner = org if draw(st.integers(0, 9)) else uuid.uuid4()  # another organisation
    return step_event(
        owner,
        label,
        draw(st.integers(0, 3)),
        _instant(draw(times)),
        action=draw(st.sampled_from(ACTIONS)),
        **draw(_common()),
    )


@st.composite
def _goal(draw: st.DrawFn, org: uuid.UUID) -> StoredEvent:
    owner = org if draw(st.integers(0, 9)) else uuid.uuid4()
    return goal_event(
        owner, draw(st.sampled_from(["g1", "g2"])), _instant(draw(times)), **draw(_common())
    )


@st.composite
def _filters(draw: st.DrawFn, events: list[StoredEvent]) -> list[dict[str, Any]]:
    stamps = [timestamp_text(e.timestamp) for e in events] or ["2022-11-03T00:00:00Z"]
    devices = draw(st.sampled_from([["mobile"], [None, "desktop"]]))
    options: list[dict[str, Any]] = [
        {"property": "device_type", "values": devices},
        {"property": "action", "values": draw(st.lists(st.sampled_from(ACTIONS), min_size=1))},
        {"property": "properties", "values": draw(st.sampled_from([["x"], [None], ["y", "z"]]))},
        {"property": "value", "values": draw(st.sampled_from([[2], ["1.0"], [1.5]]))},
        {"property": "event_version", "values": draw(st.sampled_from([[1], ["2"], [2.0]]))},
        {"property": "timestamp", "values": [draw(st.sampled_from(stamps))]},
        {"property": "session_id", "values": draw(st.sampled_from([["s1", "s2"], [None]]))},
    ]
    chosen = draw(st.lists(st.integers(0, len(options) - 1), max_size=2, unique=True))
    return [options[i] for i in chosen]


@st.composite
def scenarios(
    draw: st.DrawFn, org: uuid.UUID, workflow: uuid.UUID, kind: str | None = None
) -> Scenario:
    events = draw(st.lists(_step(org, workflow), min_size=4, max_size=30))
    events += draw(st.lists(_goal(org), max_size=6))
    for cause in draw(st.lists(st.sampled_from(events), max_size=6)):  # goals after steps
        later = cause.timestamp + timedelta(seconds=draw(st.sampled_from([0, 0.5, 100, 900])))
        fields = draw(_common()) | {"session_id": cause.session_id, "visitor_id": cause.visitor_id}
        events.append(goal_event(org, draw(st.sampled_from(["g1", "g2"])), later, **fields))
    step_data = draw(
        st.one_of(
            st.none(),
            st.lists(st.lists(st.sampled_from(ACTIONS), max_size=2, unique=True), max_size=4),
        )
    )
    question = Question(
        organization_id=org,
        workflow_id=workflow,
        workflow_type=kind or draw(st.sampled_from(TYPES)),
        start=START,
        end=END,
        step_data=step_data,
        filters=draw(st.one_of(st.just([]), st.just([]), _filters(events))),
    )
    return Scenario(events, question, draw(st.integers(0, 3)))
