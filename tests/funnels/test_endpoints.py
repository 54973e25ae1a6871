"""Step source data and workflow source data over HTTP: every status code of seeds 001 and
002, the payload rules, the columns, the order and the streaming."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tallybook.app import create_app
from tallybook.events.engines.duckdb.store import DuckDBEventStore
from tallybook.events.store import EventStore
from tallybook.kit.db import Database
from tests.fixtures.tenants import Tenant, add_user
from tests.funnels.factories import (
    T0,
    create_workflow,
    goal_event,
    payload,
    source_url,
    step_event,
    step_url,
)

RAW_FIELDS = [
    {"name": "timestamp", "type": "datetime", "tz": "UTC"},
    {"name": "source", "type": "string"},
    {"name": "event_version", "type": "integer"},
    {"name": "organization_id", "type": "string"},
    {"name": "organization_name", "type": "string"},
    {"name": "category", "type": "string"},
    {"name": "action", "type": "string"},
    {"name": "label", "type": "string"},
    {"name": "vendor", "type": "string"},
    {"name": "properties", "type": "string"},
    {"name": "dim1", "type": "string"},
    {"name": "dim2", "type": "string"},
    {"name": "dim3", "type": "string"},
    {"name": "dim4", "type": "string"},
    {"name": "dim5", "type": "string"},
    {"name": "visitor_id", "type": "string"},
    {"name": "session_id", "type": "string"},
    {"name": "user_id", "type": "string"},
    {"name": "partner_organization_ids", "type": "string"},
    {"name": "browser_name", "type": "string"},
    {"name": "browser_version", "type": "string"},
    {"name": "device_screen_height", "type": "string"},
    {"name": "device_screen_width", "type": "string"},
    {"name": "device_type", "type": "string"},
    {"name": "geo_city", "type": "string"},
    {"name": "geo_country", "type": "string"},
    {"name": "ip_organization", "type": "string"},
    {"name": "os_name", "type": "string"},
    {"name": "os_version", "type": "string"},
    {"name": "value", "type": "number"},
]
"""Seed 001's advanced example, with the first field named `timestamp` (DESIGN §7)."""
BASIC_FIELDS = [
    {"name": "Date & Time", "type": "datetime", "tz": "UTC"},
    {"name": "View title", "type": "string"},
    {"name": "Browser", "type": "string"},
    {"name": "Device", "type": "string"},
    {"name": "City", "type": "string"},
    {"name": "Country", "type": "string"},
    {"name": "ISP or organisation", "type": "string"},
    {"name": "OS (operating system)", "type": "string"},
    {"name": "Interaction Workflow ID", "type": "string"},
    {"name": "Workflow Session ID", "type": "string"},
    {"name": "Visitor ID", "type": "string"},
]
"""Seed 001's basic example."""


def at(seconds: float) -> Any:
    return T0 + timedelta(seconds=seconds)


def post(client: TestClient, tenant: Tenant, url: str, body: Any) -> Any:
    return client.post(url, json=body, headers=tenant.headers)


@pytest.fixture
def workflow(client: TestClient, tenant: Tenant, event_store: EventStore) -> uuid.UUID:
    """An interaction workflow with three sessions over two steps and goals."""
    wf = create_workflow(client, tenant, "interaction")
    org = tenant.org_id
    event_store.insert(
        [
            step_event(org, wf, 0, at(1), session_id="s1", visitor_id="v1"),
            step_event(org, wf, 1, at(3), session_id="s1", visitor_id="v1", action="User dialed",
                       browser_name="Edge", device_type="desktop", geo_city="Helsinki",
                       geo_country="Finland", ip_organization="Giosg.com Oy", os_name="Windows",
                       dim4="Call start"),
            step_event(org, wf, 1, at(2), session_id="s2", visitor_id="v2", action="other"),
            step_event(org, wf, 1, at(4), session_id="s3", visitor_id="v3", action="User dialed"),
            goal_event(org, "goal-1", at(5), session_id="s1", visitor_id="v1"),
            goal_event(org, "goal-2", at(6), session_id="s9", visitor_id="v9"),
        ]
    )  # fmt: skip
    return wf


def rows(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"fields", "data"}
    names = [f["name"] for f in body["fields"]]
    assert all(list(row) == names for row in body["data"])
    return list(body["data"])


# -- 200 and the shapes -------------------------------------------------------------------


def test_the_seeds_basic_example(client: TestClient, tenant: Tenant, workflow: uuid.UUID) -> None:
    body = {
        "filters": [{"property": "action", "values": ["User dialed"]}],
        "interval": {"start": "2022-11-03T00:00:00+00:00", "end": "2022-11-04T00:00:00+00:00"},
        "limit": "2",
        "basic": True,
    }
    response = post(client, tenant, step_url(tenant, workflow, 1), body)
    assert response.json()["fields"] == BASIC_FIELDS
    assert rows(response) == [
        {
            "Date & Time": "2022-11-03T00:00:03.000Z",
            "View title": "Call start",
            "Browser": "Edge",
            "Device": "desktop",
            "City": "Helsinki",
            "Country": "Finland",
            "ISP or organisation": "Giosg.com Oy",
            "OS (operating system)": "Windows",
            "Interaction Workflow ID": str(workflow),
            "Workflow Session ID": "s1",
            "Visitor ID": "v1",
        },
        {
            "Date & Time": "2022-11-03T00:00:04.000Z",
            "View title": "Step 1",
            "Browser": None,
            "Device": None,
            "City": None,
            "Country": None,
            "ISP or organisation": None,
            "OS (operating system)": None,
            "Interaction Workflow ID": str(workflow),
            "Workflow Session ID": "s3",
            "Visitor ID": "v3",
        },
    ]


def test_the_seeds_advanced_example(
    client: TestClient, tenant: Tenant, workflow: uuid.UUID
) -> None:
    body = payload(filters=[{"property": "action", "values": ["User dialed"]}], limit=1)
    response = post(client, tenant, step_url(tenant, workflow, 1), body)
    assert response.json()["fields"] == RAW_FIELDS
    (row,) = rows(response)
    assert row["timestamp"] == "2022-11-03T00:00:03.000Z"
    assert row["event_version"] == 1 and row["value"] == 1.0
    assert row["organization_id"] == str(tenant.org_id)
    assert row["label"] == str(workflow) and row["dim5"] == "1" and row["dim4"] == "Call start"
    assert row["properties"] == [] and row["partner_organization_ids"] == []
    assert row["dim1"] is None and row["user_id"] is None


def test_source_data_shapes(client: TestClient, tenant: Tenant, workflow: uuid.UUID) -> None:
    url = source_url(tenant, workflow)
    assert post(client, tenant, url, payload()).json()["fields"] == RAW_FIELDS
    assert post(client, tenant, url, payload(basic=True)).json()["fields"] == BASIC_FIELDS
    affected = rows(post(client, tenant, url, payload()))
    assert [r["label"] for r in affected] == ["goal-1"]
    total = rows(post(client, tenant, url, payload(target="affected_goal_total")))
    assert [r["label"] for r in total] == ["goal-1", "goal-2"]
    assert rows(post(client, tenant, url, payload(target="affected_goal"))) == affected


def test_triggered_goal(client: TestClient, tenant: Tenant, workflow: uuid.UUID) -> None:
    url = step_url(tenant, workflow, 1)
    goals = rows(post(client, tenant, url, payload(target="triggered_goal")))
    assert [(g["label"], g["session_id"]) for g in goals] == [("goal-1", "s1")]
    step_data = [{}, {"actions": ["other"]}]  # s2 took "other" and has no goal
    body = payload(target="triggered_goal", step_data=step_data)
    assert rows(post(client, tenant, url, body)) == []
    assert rows(post(client, tenant, url, payload(target="default"))) != []


def test_rows_come_in_timestamp_order(
    client: TestClient, tenant: Tenant, event_store: EventStore
) -> None:
    wf = create_workflow(client, tenant, "chat")
    seconds = [50, 3, 40.5, 3.25, 9, 70, 0, 12]
    event_store.insert([step_event(tenant.org_id, wf, 2, at(s)) for s in seconds])
    got = rows(post(client, tenant, step_url(tenant, wf, 2), payload()))
    stamps = [r["timestamp"] for r in got]
    assert stamps == sorted(stamps) and len(stamps) == len(seconds)
    assert stamps[1] == "2022-11-03T00:00:03.000Z" and stamps[2] == "2022-11-03T00:00:03.250Z"


def test_streaming_gives_the_rows_a_big_limit_gives(
    client: TestClient, tenant: Tenant, event_store: EventStore
) -> None:
    """More rows than a batch of the stream, so the body is written in several chunks."""
    wf = create_workflow(client, tenant)
    events = [
        step_event(tenant.org_id, wf, 1, at(i * 0.25), session_id=f"s{i % 97}")
        for i in range(12_000)
    ]
    event_store.insert(events)
    url = step_url(tenant, wf, 1)
    streamed = rows(post(client, tenant, url, payload()))
    limited = rows(post(client, tenant, url, payload(limit=1_000_000)))
    assert len(streamed) == 12_000 and streamed == limited
    first = rows(post(client, tenant, url, payload(limit=10)))
    assert first == streamed[:10]


def test_step_zero_and_steps_past_the_last(
    client: TestClient, tenant: Tenant, workflow: uuid.UUID
) -> None:
    source = rows(post(client, tenant, step_url(tenant, workflow, 0), payload()))
    assert [r["dim5"] for r in source] == ["0"]
    assert rows(post(client, tenant, step_url(tenant, workflow, 7), payload())) == []
    assert rows(post(client, tenant, step_url(tenant, workflow, "007"), payload())) == []
    assert rows(post(client, tenant, step_url(tenant, workflow, "01"), payload()))


def test_trailing_slashes(client: TestClient, tenant: Tenant, workflow: uuid.UUID) -> None:
    for url in (step_url(tenant, workflow, 1) + "/", source_url(tenant, workflow) + "/"):
        assert rows(post(client, tenant, url, payload()))


def test_the_interval_takes_offsets_and_naive_times_as_utc(
    client: TestClient, tenant: Tenant, workflow: uuid.UUID
) -> None:
    url = step_url(tenant, workflow, 1)
    # 02:00:03.5+02:00 is 00:00:03.5Z: only s1's event (at 3 s) is before it
    helsinki = {"start": "2022-11-03T02:00:00+02:00", "end": "2022-11-03T02:00:03.5+02:00"}
    assert [
        r["session_id"] for r in rows(post(client, tenant, url, payload(interval=helsinki)))
    ] == [
        "s2",
        "s1",
    ]
    naive = {"start": "2022-11-03T00:00:03.5", "end": "2022-11-03T01:00:00"}
    assert [r["session_id"] for r in rows(post(client, tenant, url, payload(interval=naive)))] == [
        "s3"
    ]


# -- filters ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "sessions"),
    [
        ({"property": "action", "values": ["User dialed"]}, ["s1", "s3"]),
        ({"property": "action", "values": ["nothing"]}, []),
        ({"property": "browser_name", "values": [None]}, ["s2", "s3"]),
        ({"property": "browser_name", "values": ["Edge", None]}, ["s2", "s1", "s3"]),
        ({"property": "event_version", "values": [1]}, ["s2", "s1", "s3"]),
        ({"property": "event_version", "values": ["1.0"]}, []),
        ({"property": "value", "values": ["1.0"]}, ["s2", "s1", "s3"]),
        ({"property": "value", "values": [2]}, []),
        ({"property": "timestamp", "values": ["2022-11-03T02:00:03.000+02:00"]}, ["s1"]),
        ({"property": "properties", "values": [None]}, ["s2", "s1", "s3"]),
        ({"property": "properties", "values": ["x"]}, []),
        ({"property": "organization_id", "values": ["not this one"]}, []),
    ],
)
def test_filters(
    client: TestClient,
    tenant: Tenant,
    workflow: uuid.UUID,
    spec: dict[str, Any],
    sessions: list[str],
) -> None:
    got = rows(post(client, tenant, step_url(tenant, workflow, 1), payload(filters=[spec])))
    assert [r["session_id"] for r in got] == sessions


def test_every_filter_must_match(client: TestClient, tenant: Tenant, workflow: uuid.UUID) -> None:
    filters = [
        {"property": "action", "values": ["User dialed"]},
        {"property": "session_id", "values": ["s3", "s2"]},
    ]
    got = rows(post(client, tenant, step_url(tenant, workflow, 1), payload(filters=filters)))
    assert [r["session_id"] for r in got] == ["s3"]


def test_an_unknown_property_is_406(
    client: TestClient, tenant: Tenant, workflow: uuid.UUID
) -> None:
    for url in (step_url(tenant, workflow, 1), source_url(tenant, workflow)):
        for body in (
            payload(filters=[{"property": "colour", "values": ["red"]}]),
            {"filters": [{"property": "id", "values": []}]},  # 406 before the other errors
            payload(filters=[{"property": "action", "values": ["x"]}, {"property": "_x"}]),
        ):
            response = post(client, tenant, url, body)
            assert response.status_code == 406, response.text
            assert response.json()["code"] == "not_acceptable"
            assert "colour" not in response.text


@pytest.mark.parametrize(
    "filters",
    [
        None,
        {},
        [{"property": "action"}],
        [{"property": "action", "values": []}],
        [{"property": "action", "values": "User dialed"}],
        [{"property": 5, "values": ["x"]}],
        [{"property": "action", "values": ["x"], "type": "in"}],
        [{"property": "value", "values": ["many"]}],
        [{"property": "value", "values": [True]}],
        [{"property": "timestamp", "values": ["yesterday"]}],
        [{"property": "timestamp", "values": ["3022-01-01T00:00:00Z"]}],
        [{"property": "action", "values": [{"nested": 1}]}],
        [{"property": "action", "values": ["a\u0000b"]}],
    ],
)
def test_malformed_filters_are_400(
    client: TestClient, tenant: Tenant, workflow: uuid.UUID, filters: Any
) -> None:
    body = payload(filters=filters)
    if filters is None:
        del body["filters"]
    response = post(client, tenant, step_url(tenant, workflow, 1), body)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "invalid"
    assert response.json()["errors"][0]["loc"][:2] == ["body", "filters"]


# -- limit, target, basic, interval, step_data --------------------------------------------


def test_a_limit_gives_the_first_rows_of_the_whole_interval(
    client: TestClient, tenant: Tenant, event_store: EventStore
) -> None:
    """A small limit is looked for in the interval's beginning first (service.first_rows),
    and a whole answer is read in slices of the interval (service.stream_batches): both
    give the rows of the whole interval, for every relation, with a path whose earlier
    step decides which rows count."""
    wf = create_workflow(client, tenant, "interaction")
    org = tenant.org_id
    events = []
    for i in range(40):  # one session every 35 minutes over the day
        base, session, visitor = i * 2100, f"s{i}", f"v{i % 7}"
        action = "b" if i % 3 == 0 else "a"
        events += [
            step_event(org, wf, 1, at(base), session_id=session, visitor_id=visitor, action=action),
            step_event(org, wf, 2, at(base + 60), session_id=session, visitor_id=visitor),
            goal_event(org, "goal-1", at(base + 120), session_id=session, visitor_id=visitor),
        ]
    event_store.insert(events)
    path = [{"actions": []}, {"actions": ["a"]}]
    # 26 of the 40 sessions pass step 1 ("a"); a visitor's goals count from its first pass.
    asked = [
        (step_url(tenant, wf, 2), "default", 26),
        (step_url(tenant, wf, 2), "triggered_goal", 26),
        (source_url(tenant, wf), "affected_goal", 37),
    ]
    for url, target, count in asked:
        whole = rows(post(client, tenant, url, payload(step_data=path, target=target)))
        assert len(whole) == count, target
        if target != "affected_goal":  # read in slices of the day (service.stream_batches)
            assert [r["session_id"] for r in whole] == [f"s{i}" for i in range(40) if i % 3]
        for limit in (1, 2, 5, count - 1, count, count + 1):
            body = payload(step_data=path, target=target, limit=limit)
            assert rows(post(client, tenant, url, body)) == whole[:limit], (target, limit)


@pytest.mark.parametrize(("limit", "count"), [("2", 2), (2, 2), (1, 1), ("0003", 3), (None, 3)])
def test_limit(
    client: TestClient, tenant: Tenant, workflow: uuid.UUID, limit: Any, count: int
) -> None:
    got = rows(post(client, tenant, step_url(tenant, workflow, 1), payload(limit=limit)))
    assert len(got) == count


@pytest.mark.parametrize("limit", [0, -1, "0", "-2", "x", "", True, False, 2.5, "2.5", [2], {}])
def test_bad_limits_are_400(
    client: TestClient, tenant: Tenant, workflow: uuid.UUID, limit: Any
) -> None:
    for url in (step_url(tenant, workflow, 1), source_url(tenant, workflow)):
        response = post(client, tenant, url, payload(limit=limit))
        assert response.status_code == 400, (limit, response.text)
        assert response.json()["errors"][0]["loc"] == ["body", "limit"]


@pytest.mark.parametrize(
    ("kind", "target", "status"),
    [
        ("step", "default", 200),
        ("step", "triggered_goal", 200),
        ("step", "affected_goal", 400),
        ("step", "DEFAULT", 400),
        ("step", None, 400),
        ("step", 1, 400),
        ("source", "affected_goal", 200),
        ("source", "affected_goal_total", 200),
        ("source", "default", 400),
        ("source", "triggered_goal", 400),
        ("source", "", 400),
    ],
)
def test_target(
    client: TestClient,
    tenant: Tenant,
    workflow: uuid.UUID,
    kind: str,
    target: Any,
    status: int,
) -> None:
    url = step_url(tenant, workflow, 1) if kind == "step" else source_url(tenant, workflow)
    response = post(client, tenant, url, payload(target=target))
    assert response.status_code == status, response.text


@pytest.mark.parametrize(
    "change",
    [
        {"basic": "true"},
        {"basic": 1},
        {"basic": None},
        {"interval": None},
        {"interval": {"start": "2022-11-03T00:00:00Z"}},
        {"interval": {"start": "2022-11-04T00:00:00Z", "end": "2022-11-03T00:00:00Z"}},
        {"interval": {"start": "2022-11-03T00:00:00Z", "end": "2022-11-03T00:00:00Z"}},
        {"interval": {"start": "2021-01-01T00:00:00Z", "end": "2022-11-03T00:00:00Z"}},
        {"interval": {"start": 0, "end": 1}},
        {"interval": {"start": "2022-11-03T00:00:00Z", "end": "2022-11-04T00:00:00Z", "x": 1}},
        {"step_data": {}},
        {"step_data": [{"actions": "a"}]},
        {"step_data": [{}, {"action": ["a"]}]},
        {"step_data": [None]},
        {"unknown": 1},
        {"organization_id": "x"},
        # what one statement may hold (docs/api.md): 10,000 filter values in all, 1,000
        # of them timestamps; 50 steps that list actions, 10,000 actions in all
        {"filters": [{"property": "dim1", "values": [str(i) for i in range(5001)]}] * 2},
        {
            "filters": [
                {"property": "timestamp", "values": [f"2022-11-03T00:00:{i % 60:02}Z"] * 501}
                for i in range(2)
            ]
        },
        {"step_data": [{}] + [{"actions": [f"a{k}"]} for k in range(51)]},
        {"step_data": [{}] + [{"actions": [str(i) for i in range(5001)]}] * 2},
    ],
    ids=lambda change: ",".join(change),
)
def test_malformed_payloads_are_400(
    client: TestClient, tenant: Tenant, workflow: uuid.UUID, change: dict[str, Any]
) -> None:
    for url in (step_url(tenant, workflow, 1), source_url(tenant, workflow)):
        response = post(client, tenant, url, payload(**change))
        assert response.status_code == 400, (change, response.text)
        assert response.json()["code"] == "invalid"


def test_a_body_that_is_no_object_is_400(
    client: TestClient, tenant: Tenant, workflow: uuid.UUID
) -> None:
    bodies: list[Any] = [[], "x", None, 1]
    for body in bodies:
        response = post(client, tenant, step_url(tenant, workflow, 1), body)
        assert response.status_code == 400, response.text


def test_step_data_only_counts_for_path_workflows(
    client: TestClient, tenant: Tenant, event_store: EventStore
) -> None:
    org = tenant.org_id
    step_data = [{}, {"actions": ["a"]}, {"actions": ["b"]}]
    expected = {"web_navigation": ["s1"], "interaction": ["s1"]}
    for kind in ("web_navigation", "interaction", "voice_video", "chat", "user_generated"):
        wf = create_workflow(client, tenant, kind)
        event_store.insert(
            [
                step_event(org, wf, 1, at(1), action="a", session_id="s1"),
                step_event(org, wf, 2, at(2), action="b", session_id="s1"),
                step_event(org, wf, 2, at(3), action="c", session_id="s1"),
                step_event(org, wf, 2, at(4), action="b", session_id="s2"),
            ]
        )
        got = rows(post(client, tenant, step_url(tenant, wf, 2), payload(step_data=step_data)))
        wanted = expected.get(kind, ["s1", "s1", "s2"])
        assert [r["session_id"] for r in got] == wanted, kind
        everything = rows(post(client, tenant, step_url(tenant, wf, 2), payload()))
        assert len(everything) == 3


# -- refusals -----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["web_navigation", "voice_video", "chat", "user_generated"])
def test_source_data_is_406_for_other_workflow_types(
    client: TestClient, tenant: Tenant, kind: str
) -> None:
    wf = create_workflow(client, tenant, kind)
    response = post(client, tenant, source_url(tenant, wf), payload())
    assert response.status_code == 406, response.text
    assert response.json()["code"] == "not_acceptable"
    # ...and the step data of the same workflow is there
    assert post(client, tenant, step_url(tenant, wf, 1), payload()).status_code == 200


def test_unknown_workflows_and_steps_are_404(
    client: TestClient,
    tenant: Tenant,
    new_tenant: Callable[..., Tenant],
    workflow: uuid.UUID,
) -> None:
    other = new_tenant()
    theirs = create_workflow(client, other)
    for wf in (uuid.uuid4(), theirs, "not-a-uuid"):
        for url in (step_url(tenant, wf, 1), source_url(tenant, wf)):
            response = post(client, tenant, url, payload())
            assert response.status_code == 404, response.text
            assert response.json()["code"] == "not_found"
    for step in ("x", "-1", "1.5", "1e2", "1234567890"):
        response = post(client, tenant, step_url(tenant, workflow, step), payload())
        assert response.status_code == 404, (step, response.text)
    # the body is judged before the path's objects are looked up
    response = post(client, tenant, step_url(tenant, theirs, 1), {"filters": []})
    assert response.status_code == 400


def test_refusals_come_in_order(
    client: TestClient,
    database: Database,
    tenant: Tenant,
    new_tenant: Callable[..., Tenant],
    workflow: uuid.UUID,
) -> None:
    """401 → 403 subscription → 403 organisation → 403 permission → 404, for a body that
    is fine and one that is not."""
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
    for url in (
        step_url(tenant, workflow, 1),
        step_url(tenant, uuid.uuid4(), 1),
        source_url(tenant, workflow),
    ):
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
    """Events another organisation labels with this workflow's id, and its goals, are
    never in this organisation's answers."""
    other = new_tenant()
    event_store.insert(
        [
            step_event(other.org_id, workflow, 1, at(2.5), session_id="s1", visitor_id="v1"),
            goal_event(other.org_id, "their-goal", at(7), session_id="s1", visitor_id="v1"),
        ]
    )
    for url, target in (
        (step_url(tenant, workflow, 1), "default"),
        (step_url(tenant, workflow, 1), "triggered_goal"),
        (source_url(tenant, workflow), "affected_goal"),
        (source_url(tenant, workflow), "affected_goal_total"),
    ):
        got = rows(post(client, tenant, url, payload(target=target)))
        assert got and {r["organization_id"] for r in got} == {str(tenant.org_id)}


def test_an_engine_failure_is_a_generic_500(
    database: Database, tenant: Tenant, tmp_path: Path
) -> None:
    """Seed 001's 500: the store fails mid-query; the answer holds no SQL and no detail."""
    broken = DuckDBEventStore(tmp_path / "events.duckdb")
    app = create_app(database.settings, database, broken)
    with TestClient(app, raise_server_exceptions=False) as client:
        wf = create_workflow(client, tenant)
        broken.close()
        response = post(client, tenant, step_url(tenant, wf, 1), payload())
    assert response.status_code == 500
    body = response.json()
    assert body["code"] == "internal_error"
    assert "SELECT" not in response.text and "events" not in body["detail"]
