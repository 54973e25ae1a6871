"""Reports through the v4 API: SaferMe's create shape, form fields checked against the
channel's form, the rows the analytics count, state changes, search and reads."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tallybook.kit.db import Database
from tallybook.saferme.models import Report, ReportImage, ReportSelection
from tallybook.saferme.reports import repository as reports_repository
from tests.fixtures.tenants import Tenant, add_user
from tests.saferme.factories import (
    V4,
    Setup,
    created,
    image_bytes,
    make_channel,
    make_report,
    make_setup,
    make_state,
    report_body,
    upload,
    v4_headers,
)


@pytest.fixture
def setup(client: TestClient, tenant: Tenant) -> Setup:
    return make_setup(client, tenant)


def _counts(database: Database, organization_id: uuid.UUID) -> tuple[int, int, int]:
    with database.unit_of_work() as session:
        reports = session.scalar(
            select(func.count()).where(Report.organization_id == organization_id)
        )
        ids = select(Report.id).where(Report.organization_id == organization_id)
        selections = session.scalar(select(func.count()).where(ReportSelection.report_id.in_(ids)))
        images = session.scalar(select(func.count()).where(ReportImage.report_id.in_(ids)))
    return int(reports or 0), int(selections or 0), int(images or 0)


def test_a_report_with_every_kind_of_value(
    client: TestClient, database: Database, tenant: Tenant, setup: Setup
) -> None:
    form = setup.form
    photo = upload(client, tenant, image_bytes((800, 600))).json()
    client_uuid = str(uuid.uuid4())
    values = [
        {"key": form.key("Category"), "value": form.options("Category")[1]},
        {"key": form.key("Severity"), "value": form.options("Severity")[0]},
        {"key": form.key("Resolved"), "value": None},
        {"key": form.key("Checks"), "value": form.options("Checks")[::2]},
        {"key": form.key("Photos"), "value": [photo["id"]]},
        {"key": form.key("Notes"), "value": "Loose railing"},
        {"key": form.key("When"), "value": "2023-03-21T03:08:00.000Z"},
        {"key": form.key("Score"), "value": 7},
    ]
    created = make_report(
        client,
        tenant,
        setup,
        uuid=client_uuid,
        account_id=str(setup.channel["uuid"]),  # by uuid, as SaferMe allows
        geom="Point(174.7759821 -41.2861352)",
        address="350 Lambton Quay",
        form_fields=values,
    )
    assert created["uuid"] == client_uuid
    assert created["account_id"] == setup.channel_id
    assert created["user_id"] == tenant.user_number
    assert created["location"] == {"latitude": -41.2861352, "longitude": 174.7759821}
    assert created["report_state_id"] == setup.states[0]["id"]  # the first by position
    assert created["iso_created_at"].endswith("Z")
    assert "form_fields" not in created  # reports.md's create answer has none

    shown = client.get(f"{V4}/reports/{created['id']}", headers=v4_headers(tenant)).json()
    by_key = {f["key"]: f for f in shown["form_fields"]}
    assert [f["label"] for f in shown["form_fields"]] == list(form.fields)
    assert by_key[form.key("Category")]["value"] == form.options("Category")[1]
    assert by_key[form.key("Checks")]["value"] == form.options("Checks")[::2]
    assert by_key[form.key("Checks")]["data"]["multi_select"] is True
    assert by_key[form.key("Resolved")]["value"] is None
    assert by_key[form.key("Score")]["value"] == 7
    [image] = by_key[form.key("Photos")]["value"]
    assert image["id"] == photo["id"] and image["style_url"] == photo["styles"]
    assert _counts(database, tenant.org_id) == (1, 4, 1)  # 1 + 1 + 2 selections


def _bad_values(setup: Setup, photo_of_other_team: int) -> list[tuple[list[Any], list[Any]]]:
    form = setup.form
    category = {"key": form.key("Category"), "value": form.options("Category")[0]}
    return [
        ([category, {"key": "f_0_0_0", "value": 1}], ["form_fields", 1, "key"]),
        ([category, category], ["form_fields", 1, "key"]),
        ([{"key": form.key("Category"), "value": "f_1_2_3_4"}], ["form_fields", 0, "value"]),
        (
            [{"key": form.key("Category"), "value": form.options("Severity")[0]}],
            ["form_fields", 0, "value"],
        ),
        (
            [{"key": form.key("Category"), "value": [form.options("Category")[0]]}],
            ["form_fields", 0, "value"],
        ),
        (
            [category, {"key": form.key("Checks"), "value": form.options("Checks")[0]}],
            ["form_fields", 1, "value"],
        ),
        ([category, {"key": form.key("Checks"), "value": ["nope"]}], ["form_fields", 1, "value"]),
        ([category, {"key": form.key("Score"), "value": "7"}], ["form_fields", 1, "value"]),
        ([category, {"key": form.key("Score"), "value": True}], ["form_fields", 1, "value"]),
        ([category, {"key": form.key("Notes"), "value": 5}], ["form_fields", 1, "value"]),
        ([category, {"key": form.key("When"), "value": "yesterday"}], ["form_fields", 1, "value"]),
        ([category, {"key": form.key("Photos"), "value": ["a"]}], ["form_fields", 1, "value"]),
        ([category, {"key": form.key("Photos"), "value": [photo_of_other_team]}], ["form_fields"]),
        ([category, {"key": form.key("Photos"), "value": [987654]}], ["form_fields"]),
        ([], ["form_fields"]),  # Category is mandatory
        ([{"key": form.key("Category"), "value": None}], ["form_fields"]),
        ([{"key": form.key("Category"), "value": ""}], ["form_fields"]),
    ]


def test_bad_form_fields_are_400_and_nothing_is_written(
    client: TestClient,
    database: Database,
    tenant: Tenant,
    new_tenant: Callable[..., Tenant],
    setup: Setup,
) -> None:
    theirs = upload(client, new_tenant(), image_bytes((10, 10))).json()["id"]
    for values, where in _bad_values(setup, theirs):
        response = client.post(
            f"{V4}/reports", headers=v4_headers(tenant), json=report_body(setup, form_fields=values)
        )
        assert response.status_code == 400, (values, response.text)
        body = response.json()
        assert body["error"] == body["detail"]
        assert ["body", "report", *where] in [e["loc"] for e in body["errors"]], body
    assert _counts(database, tenant.org_id) == (0, 0, 0)


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"account_id": 2**31}, ["account_id"]),
        ({"account_id": "not-an-id"}, ["account_id"]),
        ({"account_id": True}, ["account_id"]),
        ({"report_state_id": 2**31 - 1}, ["report_state_id"]),
        ({"geom": "Point(200 10)"}, ["geom"]),
        ({"geom": "Polygon((1 2, 3 4))"}, ["geom"]),
        ({"created_at": "2999-01-01T00:00:00Z"}, ["created_at"]),
        ({"created_at": 1700000000}, ["created_at"]),
        ({"user_id": 5}, ["user_id"]),
        ({"risk_assessment": {}}, ["risk_assessment"]),
    ],
)
def test_bad_report_fields_are_400(
    client: TestClient,
    database: Database,
    tenant: Tenant,
    setup: Setup,
    change: dict[str, Any],
    where: list[Any],
) -> None:
    response = client.post(
        f"{V4}/reports", headers=v4_headers(tenant), json=report_body(setup, **change)
    )
    assert response.status_code == 400, response.text
    assert ["body", "report", *where] in [
        e["loc"][: 2 + len(where)] for e in response.json()["errors"]
    ]
    assert _counts(database, tenant.org_id) == (0, 0, 0)


def test_ids_of_another_team_in_a_report_are_400(
    client: TestClient, tenant: Tenant, new_tenant: Callable[..., Tenant], setup: Setup
) -> None:
    other = new_tenant()
    their_setup = make_setup(client, other)
    headers = v4_headers(tenant)
    for change, where in (
        ({"account_id": their_setup.channel_id}, "account_id"),
        ({"account_id": their_setup.channel["uuid"]}, "account_id"),
        ({"report_state_id": their_setup.states[0]["id"]}, "report_state_id"),
    ):
        response = client.post(f"{V4}/reports", headers=headers, json=report_body(setup, **change))
        assert response.status_code == 400
        assert response.json()["errors"][0]["loc"] == ["body", "report", where]
    # A state of another channel of the same team is no better.
    mine = make_setup(client, tenant)
    body = report_body(setup, report_state_id=mine.states[0]["id"])
    assert client.post(f"{V4}/reports", headers=headers, json=body).status_code == 400


def test_a_new_report_starts_in_the_first_state_by_position_then_id(
    client: TestClient, tenant: Tenant, setup: Setup
) -> None:
    channel = make_channel(client, tenant, setup.form.id, name="Ordered")
    make_state(client, tenant, channel["id"], "Second", 2)
    first = make_state(client, tenant, channel["id"], "Tie, made first", 1)
    make_state(client, tenant, channel["id"], "Tie, made later", 1)
    body = report_body(Setup(setup.form, channel, []))
    made = created(client.post(f"{V4}/reports", headers=v4_headers(tenant), json=body))
    assert made["report_state_id"] == first["id"]
    assert made["report_state_name"] == "Tie, made first"


def test_a_channel_without_states_makes_reports_without_one(
    client: TestClient, tenant: Tenant, setup: Setup
) -> None:
    channel = make_channel(client, tenant, setup.form.id, name="Stateless")
    body = report_body(Setup(setup.form, channel, []))
    made = created(client.post(f"{V4}/reports", headers=v4_headers(tenant), json=body))
    assert made["report_state_id"] is None and made["report_state_name"] is None
    assert made["account_id"] == channel["id"]


def test_the_channel_is_checked_before_the_state(
    client: TestClient, tenant: Tenant, new_tenant: Callable[..., Tenant], setup: Setup
) -> None:
    headers = v4_headers(tenant)
    theirs = make_setup(client, new_tenant())
    both_wrong = report_body(
        setup, account_id=theirs.channel_id, report_state_id=theirs.states[0]["id"]
    )
    response = client.post(f"{V4}/reports", headers=headers, json=both_wrong)
    assert response.status_code == 400
    assert response.json()["errors"][0]["loc"] == ["body", "report", "account_id"]
    assert response.json()["errors"][0]["msg"] == "No such channel in this team."
    other_channel = make_setup(client, tenant)
    wrong_state = report_body(setup, report_state_id=other_channel.states[0]["id"])
    response = client.post(f"{V4}/reports", headers=headers, json=wrong_state)
    assert response.status_code == 400
    assert response.json()["errors"][0]["loc"] == ["body", "report", "report_state_id"]
    assert response.json()["errors"][0]["msg"] == "No such report state in this channel."


def test_the_creation_statements_are_typed_whatever_is_imported_first() -> None:
    """Built at import: a bound value without a type would reach SQLite as a bare UUID (a
    500). Checked in a fresh interpreter that imports the repository before anything."""
    check = (
        "from sqlalchemy.types import NullType\n"
        "from tallybook.saferme.reports import repository\n"
        "untyped = [name for statement in repository._DESTINATIONS.values()\n"
        "           for name, bind in statement.compile().binds.items()\n"
        "           if isinstance(bind.type, NullType)]\n"
        "assert not untyped, untyped\n"
    )
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]


def test_a_client_uuid_is_once_per_team(
    client: TestClient, tenant: Tenant, new_tenant: Callable[..., Tenant], setup: Setup
) -> None:
    shared = str(uuid.uuid4())
    make_report(client, tenant, setup, uuid=shared)
    again = client.post(
        f"{V4}/reports", headers=v4_headers(tenant), json=report_body(setup, uuid=shared)
    )
    assert again.status_code == 400
    other = new_tenant()
    assert make_report(client, other, make_setup(client, other), uuid=shared)["uuid"] == shared


def test_a_uuid_taken_between_the_check_and_the_insert_is_400_and_leaves_nothing(
    client: TestClient,
    database: Database,
    tenant: Tenant,
    setup: Setup,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two reports with one uuid made at the same time both pass the check before the
    insert; the insert itself checks again and makes nothing (on PostgreSQL the report
    and its derived rows are one statement), and the report, made again, gets the 400 of
    a uuid already taken."""
    shared = str(uuid.uuid4())
    make_report(client, tenant, setup, uuid=shared)
    before = _counts(database, tenant.org_id)
    checks: list[bool] = []
    real = reports_repository.uuid_taken

    def missed_once(*args: Any) -> bool:
        checks.append(real(*args) if checks else False)  # the first check comes too early
        return checks[-1]

    monkeypatch.setattr(reports_repository, "uuid_taken", missed_once)
    again = client.post(
        f"{V4}/reports", headers=v4_headers(tenant), json=report_body(setup, uuid=shared)
    )
    assert again.status_code == 400, again.text
    assert again.json()["errors"][0]["loc"][-1] == "uuid"
    assert checks == [False, True]
    assert _counts(database, tenant.org_id) == before
    assert before[1] > 0  # the first report's selection rows, which the second would add to


def test_a_report_posted_while_another_process_writes_waits_and_is_made(
    client: TestClient, database: Database, tenant: Tenant, setup: Setup
) -> None:
    """On SQLite a report is made on the event loop only when the write lock is free; while
    another process holds it, the report waits for it in the thread pool, and the refused
    ones before and after release it."""
    if database.dialect != "sqlite":
        pytest.skip("PostgreSQL has row locks; SQLite one writer at a time")
    path = database.engine.url.database
    assert path
    other = sqlite3.connect(path, timeout=0, isolation_level=None, check_same_thread=False)
    try:
        bad = report_body(setup, form_fields=[{"key": setup.form.key("Category"), "value": "x"}])
        refused = client.post(f"{V4}/reports", headers=v4_headers(tenant), json=bad)
        assert refused.status_code == 400, refused.text
        other.execute("BEGIN IMMEDIATE")  # at once: the refused report left no lock behind
        release = threading.Timer(0.3, other.execute, ["ROLLBACK"])
        release.start()
        before = _counts(database, tenant.org_id)
        made = client.post(f"{V4}/reports", headers=v4_headers(tenant), json=report_body(setup))
        release.join()
        assert made.status_code == 201, made.text
        assert _counts(database, tenant.org_id)[0] == before[0] + 1
    finally:
        other.close()


def test_an_attachment_goes_in_one_report_only(
    client: TestClient, tenant: Tenant, setup: Setup
) -> None:
    photo = upload(client, tenant, image_bytes((20, 20))).json()["id"]
    form = setup.form
    photos = [
        {"key": form.key("Category"), "value": form.options("Category")[0]},
        {"key": form.key("Photos"), "value": [photo]},
    ]
    first = make_report(client, tenant, setup, form_fields=photos)
    second = client.post(
        f"{V4}/reports", headers=v4_headers(tenant), json=report_body(setup, form_fields=photos)
    )
    assert second.status_code == 400
    assert "already in another report" in second.json()["errors"][0]["msg"]
    # Sending the same values to the first report again is no conflict.
    response = client.patch(
        f"{V4}/reports/{first['id']}",
        headers=v4_headers(tenant),
        json={"report": {"form_fields": photos}},
    )
    assert response.status_code == 204


def test_importing_history_with_created_at(
    client: TestClient, tenant: Tenant, setup: Setup
) -> None:
    report = make_report(client, tenant, setup, created_at="2016-11-07T10:00:00+02:00")
    assert report["created_at"] == "2016-11-07T08:00:00.000Z"
    headers = v4_headers(tenant)
    read = client.post(
        f"{V4}/reports/{report['id']}/reads",
        headers=headers,
        json={"report_read": {"created_at": "2016-11-08T00:00:00Z"}},
    )
    assert read.status_code == 201
    assert read.json() == {
        "id": read.json()["id"],
        "report_id": report["id"],
        "account_id": setup.channel_id,
        "user_id": tenant.user_number,
        "created_at": "2016-11-08T00:00:00.000Z",
    }
    early = client.post(
        f"{V4}/reports/{report['id']}/reads",
        headers=headers,
        json={"report_read": {"created_at": "2016-11-07T07:59:59Z"}},
    )
    assert early.status_code == 400
    plain = client.post(f"{V4}/reports/{report['id']}/reads", headers=headers)
    assert plain.status_code == 201
    assert plain.json()["created_at"] > "2020"


def test_patch_changes_the_state_and_merges_form_fields(
    client: TestClient, database: Database, tenant: Tenant, setup: Setup
) -> None:
    form = setup.form
    report = make_report(
        client,
        tenant,
        setup,
        form_fields=[
            {"key": form.key("Category"), "value": form.options("Category")[0]},
            {"key": form.key("Checks"), "value": form.options("Checks")},
            {"key": form.key("Notes"), "value": "first"},
        ],
    )
    url = f"{V4}/reports/{report['id']}"
    headers = v4_headers(tenant)
    resolved = setup.states[2]["id"]
    change = {
        "report_state_id": resolved,
        "address": "Elsewhere",
        "form_fields": [{"key": form.key("Checks"), "value": [form.options("Checks")[1]]}],
    }
    assert client.patch(url, headers=headers, json={"report": change}).status_code == 204
    shown = client.get(url, headers=headers).json()
    assert shown["report_state_id"] == resolved and shown["report_state_name"] == "Resolved"
    assert shown["address"] == "Elsewhere"
    values = {f["key"]: f["value"] for f in shown["form_fields"]}
    assert values[form.key("Checks")] == [form.options("Checks")[1]]
    assert values[form.key("Notes")] == "first"  # not sent, so kept
    assert _counts(database, tenant.org_id) == (1, 2, 0)

    for bad in (
        {"form_fields": [{"key": form.key("Category"), "value": None}]},  # mandatory
        {"report_state_id": 2**31 - 1},
        {"account_id": 5},
        {"geom": "nowhere"},
    ):
        response = client.patch(url, headers=headers, json={"report": bad})
        assert response.status_code == 400, (bad, response.text)
    assert client.get(url, headers=headers).json() == shown


def _placements(database: Database, report_id: int) -> dict[int, int]:
    """The report's images: attachment id → image id (the analytics' report_image_id)."""
    with database.unit_of_work() as session:
        rows = session.execute(
            select(ReportImage.attachment_id, ReportImage.id).where(
                ReportImage.report_id == report_id
            )
        )
        return {int(attachment): int(image) for attachment, image in rows}


def test_an_image_left_in_place_keeps_its_id(
    client: TestClient, database: Database, tenant: Tenant, setup: Setup
) -> None:
    form = setup.form
    first, second = (upload(client, tenant, image_bytes((20, 20))).json()["id"] for _ in "12")
    category = {"key": form.key("Category"), "value": form.options("Category")[0]}
    report = make_report(
        client,
        tenant,
        setup,
        form_fields=[category, {"key": form.key("Photos"), "value": [first, second]}],
    )
    url, headers = f"{V4}/reports/{report['id']}", v4_headers(tenant)
    placed = _placements(database, report["id"])
    assert set(placed) == {first, second}

    def patch(*fields: dict[str, Any]) -> None:
        body = {"report": {"form_fields": list(fields)}}
        assert client.patch(url, headers=headers, json=body).status_code == 204

    patch({**category, "value": form.options("Category")[1]})  # another field changes
    assert _placements(database, report["id"]) == placed
    patch({"key": form.key("Photos"), "value": [second]})
    assert _placements(database, report["id"]) == {second: placed[second]}
    patch({"key": form.key("Photos"), "value": [second, first]})  # placed again: a new image
    again = _placements(database, report["id"])
    assert again[second] == placed[second] and again[first] > max(placed.values())


def test_any_user_of_the_team_may_report_and_read(
    client: TestClient, database: Database, tenant: Tenant, setup: Setup
) -> None:
    plain = add_user(database, tenant, permissions=[])
    report = make_report(client, plain, setup)
    assert report["user_id"] == plain.user_number
    url = f"{V4}/reports/{report['id']}"
    assert client.get(url, headers=v4_headers(plain)).status_code == 200
    assert client.post(f"{url}/reads", headers=v4_headers(plain)).status_code == 201


def test_search_filters_and_orders(client: TestClient, tenant: Tenant, setup: Setup) -> None:
    headers = v4_headers(tenant)
    other = make_channel(client, tenant, name="Other")
    start = datetime(2024, 1, 1, tzinfo=UTC)
    made = [
        make_report(client, tenant, setup, created_at=(start + timedelta(days=d)).isoformat())
        for d in range(5)
    ]
    elsewhere = client.post(
        f"{V4}/reports", headers=headers, json={"report": {"account_id": other["id"]}}
    ).json()
    search = f"{V4}/reports/search"
    everything = client.get(search, headers=headers)
    assert [r["id"] for r in everything.json()] == [elsewhere["id"]] + [r["id"] for r in made[::-1]]
    assert everything.headers["Content-Range"] == "reports 0-5/6"

    mine = client.get(
        f"{search}?channel_ids[]={setup.channel_id}&orderby=created_at+asc", headers=headers
    )
    assert [r["id"] for r in mine.json()] == [r["id"] for r in made]
    both = client.get(
        f"{search}?channel_ids[]={setup.channel_id}&channel_ids[]={other['id']}", headers=headers
    )
    assert len(both.json()) == 6
    window = client.get(
        f"{search}?channel_ids[]={setup.channel_id}&created_after=2024-01-02T00:00:00Z"
        "&created_before=2024-01-04T00:00:00Z",
        headers=headers,
    )
    assert [r["id"] for r in window.json()] == [made[2]["id"]]  # strictly after, before
    by_state = client.get(f"{search}?report_state_id={setup.states[1]['id']}", headers=headers)
    assert by_state.json() == [] and by_state.headers["Content-Range"] == "reports */0"
    by_user = client.get(f"{search}?user_id={tenant.user_number}", headers=headers)
    assert len(by_user.json()) == 6
    hidden = client.post(
        f"{V4}/reports",
        headers=headers,
        json={"report": {"account_id": other["id"], "is_anonymous": True}},
    ).json()
    assert hidden["user_id"] is None
    assert hidden["id"] in [r["id"] for r in client.get(search, headers=headers).json()]
    by_user = client.get(f"{search}?user_id={tenant.user_number}", headers=headers)
    assert hidden["id"] not in [r["id"] for r in by_user.json()]  # who made it stays unsaid
    assert len(by_user.json()) == 6
    for bad in ("orderby=title+asc", "created_after=soon", "channel_ids[]=x", "user_id=me"):
        assert client.get(f"{search}?{bad}", headers=headers).status_code == 400, bad


def test_search_in_another_teams_channel_is_404(
    client: TestClient, tenant: Tenant, new_tenant: Callable[..., Tenant], setup: Setup
) -> None:
    foreign = make_channel(client, new_tenant())
    url = f"{V4}/reports/search?channel_ids[]={setup.channel_id}&channel_ids[]={foreign['id']}"
    assert client.get(url, headers=v4_headers(tenant)).status_code == 404
