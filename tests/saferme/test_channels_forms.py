"""Channels, forms and report states through the v4 API, in SaferMe's shapes."""

from __future__ import annotations

import json
import time
import typing
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tallybook.saferme.forms.schemas import FieldTypeName
from tallybook.saferme.types import FieldType
from tests.fixtures.tenants import Tenant
from tests.saferme.factories import (
    STANDARD_FIELDS,
    V4,
    make_channel,
    make_form,
    make_report,
    make_setup,
    make_state,
    v4_headers,
)


def test_field_type_literal_matches_the_enum() -> None:
    assert set(typing.get_args(FieldTypeName)) == {t.value for t in FieldType}


def test_a_form_gets_keys_option_values_and_saferme_data(
    client: TestClient, tenant: Tenant
) -> None:
    form = make_form(client, tenant)
    team = form.body["team_id"]
    assert isinstance(team, int)
    assert [f["label"] for f in form.body["fields"]] == [f["label"] for f in STANDARD_FIELDS]
    for order, shown in enumerate(form.body["fields"]):
        assert shown["key"] == f"f_{team}_{form.id}_{shown['id']}"
        assert shown["form_order"] == order
        assert shown["visibility"] == "public" and shown["editable"] is True
    category = form.fields["Category"]
    assert category["mandatory"] is True
    data = json.loads(category["data"])  # SaferMe sends data as JSON text
    assert data["multi_select"] is False
    assert [o["label"] for o in data["options"]] == ["Hazard", "Incident", "Near miss"]
    assert [o["value"] for o in data["options"]] == [f"{category['key']}_{n}" for n in (1, 2, 3)]
    assert [o["display_order"] for o in data["options"]] == [0, 1, 2]
    assert json.loads(form.fields["Checks"]["data"])["multi_select"] is True
    assert form.fields["Notes"]["data"] == ""
    assert client.get(f"{V4}/forms/{form.id}", headers=v4_headers(tenant)).json() == form.body
    listed = client.get(f"{V4}/forms", headers=v4_headers(tenant))
    assert listed.json() == [form.body]
    assert listed.headers["Content-Range"] == "forms 0-0/1"


@pytest.mark.parametrize(
    ("field", "where"),
    [
        ({"label": "C", "field_type": "Category"}, ["data", "options"]),
        ({"label": "D", "field_type": "DropDown", "data": {"options": []}}, ["data", "options"]),
        (
            {"label": "R", "field_type": "Radio", "data": {"multi_select": True}},
            ["data", "options"],
        ),
        (
            {
                "label": "R",
                "field_type": "Radio",
                "data": {"multi_select": True, "options": [{"label": "a"}]},
            },
            ["data", "multi_select"],
        ),
        (
            {
                "label": "D",
                "field_type": "CheckBox",
                "data": {"options": [{"label": "a"}, {"label": "a"}]},
            },
            ["data", "options"],
        ),
        (
            {"label": "T", "field_type": "ShortTextBox", "data": {"options": [{"label": "a"}]}},
            ["data", "options"],
        ),
        ({"label": "T", "field_type": "Nonsense"}, ["field_type"]),
        ({"label": "", "field_type": "ShortTextBox"}, ["label"]),
        ({"label": "T", "field_type": "ShortTextBox", "key": "f_1"}, ["key"]),
        ({"label": "T", "field_type": "ShortTextBox", "colour": "red"}, ["colour"]),
        (
            {
                "label": "D",
                "field_type": "DropDown",
                "data": {"options": [{"label": "a", "value": "x"}]},
            },
            ["data", "options", 0, "value"],
        ),
    ],
)
def test_bad_fields_are_400_and_make_no_form(
    client: TestClient, tenant: Tenant, field: dict[str, Any], where: list[Any]
) -> None:
    headers = v4_headers(tenant)
    good = {"label": "Fine", "field_type": "ShortTextBox"}
    response = client.post(
        f"{V4}/forms", headers=headers, json={"form": {"name": "F", "fields": [good, field]}}
    )
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == "invalid" and body["error"] == body["detail"]
    assert ["body", "form", "fields", 1, *where] in [e["loc"] for e in body["errors"]]
    listed = client.get(f"{V4}/forms", headers=headers)
    assert listed.json() == [] and listed.headers["Content-Range"] == "forms */0"


def test_a_body_not_wrapped_in_the_resource_name_is_400(client: TestClient, tenant: Tenant) -> None:
    response = client.post(f"{V4}/channels", headers=v4_headers(tenant), json={"name": "x"})
    assert response.status_code == 400
    locs = [e["loc"] for e in response.json()["errors"]]
    assert ["body", "channel"] in locs and ["body", "name"] in locs


def test_channel_lifecycle(client: TestClient, tenant: Tenant) -> None:
    headers = v4_headers(tenant)
    form = make_form(client, tenant)
    channel = make_channel(client, tenant, form.id)
    assert channel["form_id"] == form.id and channel["reports_count"] == 0
    assert channel["team_id"] == form.body["team_id"] and channel["is_manageable_by"] is True
    url = f"{V4}/channels/{channel['id']}"
    assert client.get(url, headers=headers).json() == channel

    patched = client.patch(url, headers=headers, json={"channel": {"name": "Renamed"}})
    assert patched.status_code == 204 and patched.content == b""
    shown = client.get(url, headers=headers).json()
    assert shown["name"] == "Renamed" and shown["description"] == channel["description"]

    for bad in ({"name": None}, {"name": "  "}, {"form_id": 2**31}, {"reports_count": 3}):
        response = client.patch(url, headers=headers, json={"channel": bad})
        assert response.status_code == 400, (bad, response.text)
    assert client.get(url, headers=headers).json()["name"] == "Renamed"

    assert client.delete(url, headers=headers).status_code == 204
    assert client.get(url, headers=headers).status_code == 404
    assert client.delete(url, headers=headers).status_code == 404


def test_channels_are_listed_by_name_with_their_report_counts(
    client: TestClient, tenant: Tenant
) -> None:
    setup = make_setup(client, tenant)
    for _ in range(3):
        make_report(client, tenant, setup)
    make_channel(client, tenant, name="Accidents")
    response = client.get(f"{V4}/channels", headers=v4_headers(tenant))
    assert [(c["name"], c["reports_count"]) for c in response.json()] == [
        ("Accidents", 0),
        ("Hazards", 3),
    ]
    assert response.headers["Content-Range"] == "channels 0-1/2"
    only = client.get(f"{V4}/channels?ids={setup.channel_id}", headers=v4_headers(tenant))
    assert [c["id"] for c in only.json()] == [setup.channel_id]


def test_a_form_of_another_team_is_400_for_a_channel(
    client: TestClient, tenant: Tenant, new_tenant: Callable[..., Tenant]
) -> None:
    theirs = make_form(client, new_tenant())
    response = client.post(
        f"{V4}/channels",
        headers=v4_headers(tenant),
        json={"channel": {"name": "Mine", "form_id": theirs.id}},
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["loc"] == ["body", "channel", "form_id"]
    assert client.get(f"{V4}/channels", headers=v4_headers(tenant)).json() == []


def test_deleting_a_channel_deletes_its_states_and_reports(
    client: TestClient, tenant: Tenant
) -> None:
    headers = v4_headers(tenant)
    setup = make_setup(client, tenant)
    report = make_report(client, tenant, setup)
    assert client.delete(f"{V4}/channels/{setup.channel_id}", headers=headers).status_code == 204
    assert client.get(f"{V4}/reports/{report['id']}", headers=headers).status_code == 404
    state = setup.states[0]["id"]
    assert client.get(f"{V4}/report_states/{state}", headers=headers).status_code == 404

    # The ids of the deleted rows (the newest of their tables) are never handed out again:
    # a client's saved channel_id or report link must not come to mean another one.
    again = make_setup(client, tenant)
    assert again.channel_id > setup.channel_id
    assert min(s["id"] for s in again.states) > max(s["id"] for s in setup.states)
    assert make_report(client, tenant, again)["id"] > report["id"]


def test_report_states_of_a_channel(
    client: TestClient, tenant: Tenant, new_tenant: Callable[..., Tenant]
) -> None:
    headers = v4_headers(tenant)
    first = make_channel(client, tenant, name="First")
    second = make_channel(client, tenant, name="Second")
    late = make_state(client, tenant, first["id"], "Closed", 9)
    early = make_state(client, tenant, first["id"], "Open", 1)
    other = make_state(client, tenant, second["id"], "Open", 1)
    assert early["account_id"] == first["id"] and early["position"] == 1
    assert early["notify"] == "all" and early["visibility"] == "everyone"

    listed = client.get(f"{V4}/report_states?account_id={first['id']}", headers=headers)
    assert [s["id"] for s in listed.json()] == [early["id"], late["id"]]
    assert listed.headers["Content-Range"] == "report_states 0-1/2"
    by_channel = client.get(f"{V4}/report_states?channel_id={second['id']}", headers=headers)
    assert [s["id"] for s in by_channel.json()] == [other["id"]]
    everything = client.get(f"{V4}/report_states", headers=headers).json()
    assert {s["id"] for s in everything} == {early["id"], late["id"], other["id"]}
    assert client.get(f"{V4}/report_states/{late['id']}", headers=headers).json() == late

    foreign = make_channel(client, new_tenant())
    assert (
        client.get(f"{V4}/report_states?account_id={foreign['id']}", headers=headers).status_code
        == 404
    )
    assert client.get(f"{V4}/report_states?account_id=abc", headers=headers).status_code == 400
    body = {"report_state": {"account_id": foreign["id"], "name": "Mine", "position": 1}}
    refused = client.post(f"{V4}/report_states", headers=headers, json=body)
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["loc"] == ["body", "report_state", "account_id"]


def test_lists_take_team_id_and_updated_after(
    client: TestClient, tenant: Tenant, new_tenant: Callable[..., Tenant]
) -> None:
    """reference/saferme: channels, forms and report states "filter entries by team_id"
    and "only return entries updated after given date"."""
    headers = v4_headers(tenant)
    form = make_form(client, tenant)
    old = make_channel(client, tenant, form.id, name="Old")
    old_state = make_state(client, tenant, old["id"], "Open", 1)
    cut = datetime.now(UTC)
    time.sleep(0.01)
    new = make_channel(client, tenant, name="New")
    new_state = make_state(client, tenant, new["id"], "Open", 1)
    after = {"updated_after": cut.isoformat()}

    def ids(path: str, **params: Any) -> list[int]:
        response = client.get(f"{V4}/{path}", headers=headers, params=params)
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()]

    assert ids("channels", **after) == [new["id"]]
    assert ids("report_states", **after) == [new_state["id"]]
    assert ids("forms", **after) == []
    renamed = {"channel": {"name": "Old, renamed"}}
    patched = client.patch(f"{V4}/channels/{old['id']}", headers=headers, json=renamed)
    assert patched.status_code == 204
    assert ids("channels", **after) == [new["id"], old["id"]]  # by name
    team = form.body["team_id"]
    assert ids("channels", team_id=team) == [new["id"], old["id"]]
    assert ids("report_states", team_id=team) == [old_state["id"], new_state["id"]]
    assert ids("forms", team_id=team) == [form.id]
    theirs = make_form(client, new_tenant()).body["team_id"]
    for path in ("channels", "report_states", "forms"):
        assert ids(path, team_id=theirs) == []
        for bad in ({"team_id": "x"}, {"updated_after": "soon"}):
            response = client.get(f"{V4}/{path}", headers=headers, params=bad)
            assert response.status_code == 400, (path, bad)
            assert response.json()["errors"][0]["loc"] == ["query", *bad]
