"""Issue 9, items 2 and 12: the probe's requests with instants the calendar cannot handle,
numbers given as timestamps and booleans given as numbers. Each is a 400 naming the field;
what the documents accept (numeric strings for numbers, any ISO 8601 offset) still is."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.chats.factories import ChatApi
from tests.events.factories import STORE, event
from tests.fixtures.tenants import Tenant
from tests.targets.factories import SEED_TARGET, create_target, make_workflow, targets_url

RANGE = "supported range"
TEXT = "ISO 8601 date-time string"
NOT_BOOLEAN = "not a boolean"


def refused(response: Any, loc: list[str | int], message: str) -> None:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == "invalid"
    assert [e["loc"] for e in body["errors"]] == [loc], body
    assert message in body["errors"][0]["msg"]
    assert "Traceback" not in response.text


TARGET_ROWS: list[tuple[dict[str, Any], str, str]] = [
    ({"target_active_from": "0001-01-01T00:00:00Z", "reporting_period": "P1D"}, "from", RANGE),
    ({"target_active_from": "0001-01-01T00:00:00Z", "reporting_period": "P7D"}, "from", RANGE),
    ({"target_active_from": "9999-12-31T23:59:59Z", "reporting_period": "P999D"}, "from", RANGE),
    ({"target_active_from": "9999-01-01T00:00:00Z", "reporting_period": "P999M"}, "from", RANGE),
    ({"target_active_from": "1969-12-31T23:59:59.999Z"}, "from", RANGE),
    ({"target_active_until": "3000-01-01T00:00:00Z"}, "until", RANGE),
    ({"target_active_until": "9999-12-31T23:00:00-05:00"}, "until", RANGE),
    ({"target_active_from": 0}, "from", TEXT),
    ({"target_active_from": -1}, "from", TEXT),
    ({"target_active_from": 1617271857.242}, "from", TEXT),
    ({"target_active_from": "1617271857"}, "from", TEXT),  # a number as text is one too
    ({"target_active_until": True}, "until", TEXT),
    ({"reporting_threshold": True}, "reporting_threshold", NOT_BOOLEAN),
    ({"reporting_threshold": False}, "reporting_threshold", NOT_BOOLEAN),
]


@pytest.mark.parametrize(("changes", "field", "message"), TARGET_ROWS)
def test_targets_refuse_instants_out_of_range_numbers_as_times_and_booleans(
    client: TestClient, tenant: Tenant, changes: dict[str, Any], field: str, message: str
) -> None:
    wf = make_workflow(client, tenant)
    name = {"from": "target_active_from", "until": "target_active_until"}.get(field, field)
    body = {**SEED_TARGET, "target_active_until": None, **changes}
    response = client.post(targets_url(tenant, wf), json=body, headers=tenant.headers)
    refused(response, ["body", name], message)
    # A PATCH of a stored target follows the same rule.
    target = create_target(client, tenant, wf)
    response = client.patch(
        f"{targets_url(tenant, wf)}/{target['id']}",
        json={name: changes[name]},
        headers=tenant.headers,
    )
    refused(response, ["body", name], message)


def test_targets_accept_the_edges_of_the_range_and_numeric_strings(
    client: TestClient, tenant: Tenant
) -> None:
    wf = make_workflow(client, tenant)
    target = create_target(
        client,
        tenant,
        wf,
        reporting_threshold="10",
        reporting_period="P999Y",
        target_active_from="1970-01-01T02:00:00+02:00",
        target_active_until="2999-12-31T23:59:59.999Z",
    )
    assert target["reporting_threshold"] == 10.0
    assert target["target_active_from"] == "1970-01-01T00:00:00.000Z"
    assert target["target_active_until"] == "2999-12-31T23:59:59.999Z"
    test = client.get(f"{targets_url(tenant, wf)}/{target['id']}/test", headers=tenant.headers)
    assert test.status_code == 200, test.text
    assert test.json()["timespan_requested"].startswith("1970-01-01T00:00:00.000Z/")


GRANULARITIES = ["all", "minute", "fifteen_minute", "thirty_minute", "hour", "day", "week"]


@pytest.mark.parametrize("granularity", [*GRANULARITIES, "month", "year"])
def test_fetch_refuses_an_interval_beyond_the_range_for_every_granularity(
    client: TestClient, tenant: Tenant, granularity: str
) -> None:
    url = f"/api/events/v2/orgs/{tenant.org_id}/fetch"
    for interval, fields in [
        ({"start": "9999-01-01T00:00:00Z", "end": "9999-12-31T00:00:00Z"}, ["start", "end"]),
        ({"start": "2999-06-01T00:00:00Z", "end": "3000-01-01T00:00:01Z"}, ["end"]),
        ({"start": "0001-01-01T00:00:00Z", "end": "1970-01-02T00:00:00Z"}, ["start"]),
        ({"start": 0, "end": "1970-01-02T00:00:00Z"}, ["start"]),
    ]:
        body = {"vendor": "v", "granularity": granularity, "interval": interval}
        response = client.post(url, json=body, headers=tenant.headers)
        assert response.status_code == 400, (interval, response.text)
        errors = response.json()["errors"]
        assert [e["loc"] for e in errors] == [["body", "interval", f] for f in fields]
    body = {
        "vendor": "v",
        "granularity": granularity,
        "interval": {"start": "2999-01-01T00:00:00Z", "end": "2999-12-31T23:59:59.999Z"},
    }
    response = client.post(url, json=body, headers=tenant.headers)
    assert response.status_code == 200, response.text


def test_event_ingestion_refuses_times_out_of_range_numbers_and_boolean_values(
    client: TestClient, tenant: Tenant
) -> None:
    rows: list[tuple[dict[str, Any], str, str]] = [
        ({"timestamp": "0001-01-01T00:00:00Z"}, "timestamp", RANGE),
        ({"timestamp": "1969-12-31T23:59:59Z"}, "timestamp", RANGE),
        ({"timestamp": 1626955212}, "timestamp", TEXT),
        ({"timestamp": "1626955212"}, "timestamp", TEXT),
        ({"timestamp": "1626955212000"}, "timestamp", TEXT),
        ({"timestamp": " -1.5e3 "}, "timestamp", TEXT),
        ({"value": True}, "value", NOT_BOOLEAN),
    ]
    for fields, field, message in rows:
        response = client.post(
            f"{STORE}/untrusted", json={"events": [event(tenant), event(tenant, **fields)]}
        )
        refused(response, ["body", "events", 1, field], message)
    response = client.post(f"{STORE}/untrusted", json={"events": [event(tenant, value="2.5")]})
    assert response.status_code == 200, response.text


def test_chats_and_messages_refuse_numbers_as_times_and_boolean_tag_counts(
    client: TestClient, tenant: Tenant
) -> None:
    api = ChatApi(client, tenant)
    room = api.room()["id"]
    rows: list[tuple[dict[str, Any], str, str]] = [
        ({"created_at": 0}, "created_at", TEXT),
        ({"created_at": "0001-01-01T00:00:00Z"}, "created_at", RANGE),
        ({"ended_at": "9999-12-31T23:59:59Z"}, "ended_at", RANGE),
        ({"tag_count": True}, "tag_count", NOT_BOOLEAN),
    ]
    for fields, field, message in rows:
        payload = {"created_at": "2024-03-01T12:00:00Z", **fields}
        response = client.post(api.chats(room), json=payload, headers=tenant.headers)
        refused(response, ["body", field], message)
    chat = api.chat(room, tag_count="3")["id"]
    for created_at, message in [(0, TEXT), ("9999-12-31T23:59:59Z", RANGE)]:
        response = client.post(
            api.messages(room, chat),
            json={"sender_type": "visitor", "created_at": created_at},
            headers=tenant.headers,
        )
        refused(response, ["body", "created_at"], message)
    line = '{"created_at": 0, "messages": []}\n'
    response = api.import_ndjson(room, line, **{"Content-Type": "application/x-ndjson"})
    assert response.status_code == 400, response.text
    (error,) = response.json()["errors"]
    assert error["loc"][:3] == ["body", 1, "created_at"] and TEXT in error["msg"]
