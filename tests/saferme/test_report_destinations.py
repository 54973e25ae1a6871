"""A process remembers where each channel's last report went (its channel and state), and
the next report to that channel is inserted without reading them again, but only while
they are still as remembered: whatever changed them since (in this process or another,
which cannot tell this one) is seen, and the report is made as if nothing was remembered."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, select, update

from tallybook.kit.db import Database
from tallybook.saferme.models import Channel, ReportImage
from tests.fixtures.statements import statements
from tests.fixtures.tenants import Tenant
from tests.saferme.factories import (
    V4,
    Setup,
    image_bytes,
    make_channel,
    make_form,
    make_report,
    make_setup,
    make_state,
    report_body,
    upload,
    v4_headers,
)


@pytest.fixture
def setup(client: TestClient, tenant: Tenant) -> Setup:
    made = make_setup(client, tenant)
    make_report(client, tenant, made)  # from now on its destination is remembered
    return made


def _patch_channel(client: TestClient, tenant: Tenant, setup: Setup, **changes: Any) -> None:
    response = client.patch(
        f"{V4}/channels/{setup.channel_id}",
        headers=v4_headers(tenant),
        json={"channel": changes},
    )
    assert response.status_code == 204, response.text


def _inserted_only(seen: list[str], database: Database) -> None:
    """The report was made without a read: on PostgreSQL in one statement (report,
    selections and images), on SQLite the report's insert and its selections'."""
    assert seen and all(s.lstrip().startswith(("INSERT", "WITH")) for s in seen), seen
    assert "INSERT INTO v4_reports" in seen[0]
    if database.dialect == "postgresql":
        assert len(seen) == 1, seen


def _post(client: TestClient, tenant: Tenant, body: dict[str, Any]) -> Any:
    return client.post(f"{V4}/reports", headers=v4_headers(tenant), json=body)


def test_a_remembered_destination_makes_a_report_in_one_statement(
    client: TestClient, database: Database, tenant: Tenant, setup: Setup
) -> None:
    """One statement, and on PostgreSQL it commits itself: no COMMIT round trip. The
    connection goes back to the pool with its transactions as before."""
    autocommit: list[bool] = []

    def record(_conn: Any, cursor: Any, *_: Any) -> None:
        # is True: sqlite3's is -1 (legacy transaction control) from Python 3.12
        autocommit.append(getattr(cursor.connection, "autocommit", None) is True)

    event.listen(database.engine, "before_cursor_execute", record)
    try:
        with statements(database) as seen:
            made = make_report(client, tenant, setup)
    finally:
        event.remove(database.engine, "before_cursor_execute", record)
    _inserted_only(seen, database)
    assert made["account_name"] == "Hazards"
    assert made["report_state_name"] == "New"
    assert set(autocommit) == {database.dialect == "postgresql"}
    with database.unit_of_work() as session:  # the pool gives the connection used last
        driver = session.connection().connection.driver_connection
        assert getattr(driver, "autocommit", None) is not True
        assert session.in_transaction()


def test_a_renamed_channel_is_seen(client: TestClient, tenant: Tenant, setup: Setup) -> None:
    _patch_channel(client, tenant, setup, name="Near misses")
    made = make_report(client, tenant, setup)
    assert made["account_name"] == made["title"] == "Near misses"


def test_a_report_is_checked_against_the_channels_new_form(
    client: TestClient, database: Database, tenant: Tenant, setup: Setup
) -> None:
    other = make_form(
        client,
        tenant,
        [{"label": "Where", "field_type": "ShortTextBox", "mandatory": True}],
    )
    _patch_channel(client, tenant, setup, form_id=other.id)
    old = _post(client, tenant, report_body(setup))  # the old form's Category
    assert old.status_code == 400, old.text
    new = {
        "account_id": setup.channel_id,
        "form_fields": [{"key": other.key("Where"), "value": "Gate"}],
    }
    assert _post(client, tenant, {"report": new}).status_code == 201
    with statements(database) as seen:  # remembered with its new form
        assert _post(client, tenant, {"report": new}).status_code == 201
    _inserted_only(seen, database)


def test_a_new_first_state_is_where_reports_start(
    client: TestClient, tenant: Tenant, setup: Setup
) -> None:
    first = make_state(client, tenant, setup.channel_id, "Triage", 0)
    made = make_report(client, tenant, setup)
    assert (made["report_state_id"], made["report_state_name"]) == (first["id"], "Triage")


def test_a_given_state_is_remembered_apart_from_the_first(
    client: TestClient, tenant: Tenant, setup: Setup
) -> None:
    resolved = setup.states[2]["id"]
    for _ in range(2):
        made = make_report(client, tenant, setup, report_state_id=resolved)
        assert (made["report_state_id"], made["report_state_name"]) == (resolved, "Resolved")
    assert make_report(client, tenant, setup)["report_state_name"] == "New"


def test_a_deleted_channel_takes_no_more_reports(
    client: TestClient, tenant: Tenant, setup: Setup
) -> None:
    gone = client.delete(f"{V4}/channels/{setup.channel_id}", headers=v4_headers(tenant))
    assert gone.status_code == 204, gone.text
    refused = _post(client, tenant, report_body(setup))
    assert refused.status_code == 400, refused.text
    assert refused.json()["errors"][0]["loc"][-1] == "account_id"


def test_a_taken_uuid_is_the_same_400_as_without_a_remembered_destination(
    client: TestClient, tenant: Tenant, setup: Setup
) -> None:
    shared = make_report(client, tenant, setup)["uuid"]
    again = _post(client, tenant, report_body(setup, uuid=shared))
    assert again.status_code == 400, again.text
    assert again.json()["errors"][0]["loc"][-1] == "uuid"


def test_a_report_bad_against_the_remembered_form_gets_the_400_of_the_new_one(
    client: TestClient, tenant: Tenant, setup: Setup
) -> None:
    """Checked against the remembered form, the report's Category value is wrong; against
    the channel's form as it is now, its Category key is unknown: that is the 400."""
    other = make_form(client, tenant, [{"label": "Where", "field_type": "ShortTextBox"}])
    _patch_channel(client, tenant, setup, form_id=other.id)
    fresh = make_channel(client, tenant, other.id, name="Fresh")  # nothing remembered
    bad = report_body(setup, form_fields=[{"key": setup.form.key("Category"), "value": "x"}])
    remembered = _post(client, tenant, bad)
    bad["report"]["account_id"] = fresh["id"]
    not_remembered = _post(client, tenant, bad)
    assert remembered.status_code == not_remembered.status_code == 400
    assert remembered.json() == not_remembered.json()
    error = remembered.json()["errors"][0]  # not the old form's complaint about the value
    assert (error["loc"][-1], error["msg"]) == ("key", "No field with this key in the form.")


def test_a_channel_named_by_its_uuid_is_remembered_apart(
    client: TestClient, database: Database, tenant: Tenant, setup: Setup
) -> None:
    by_uuid = report_body(setup, account_id=setup.channel["uuid"])
    assert _post(client, tenant, by_uuid).status_code == 201
    _patch_channel(client, tenant, setup, name="Renamed")
    with statements(database) as seen:
        made = _post(client, tenant, by_uuid)
    assert made.status_code == 201, made.text
    assert made.json()["account_id"] == setup.channel_id
    assert made.json()["account_name"] == "Renamed"
    assert any("SELECT" in s and "v4_channels" in s for s in seen)  # read again
    with statements(database) as seen:
        assert _post(client, tenant, by_uuid).status_code == 201
    _inserted_only(seen, database)


def test_another_team_cannot_use_a_remembered_destination(
    client: TestClient,
    tenant: Tenant,
    setup: Setup,
    new_tenant: Callable[..., Tenant],
) -> None:
    theirs = new_tenant()
    refused = _post(client, theirs, report_body(setup))
    assert refused.status_code == 400, refused.text
    assert refused.json()["errors"][0]["loc"][-1] == "account_id"


def test_photos_go_with_a_report_made_from_a_remembered_destination(
    client: TestClient, database: Database, tenant: Tenant, setup: Setup
) -> None:
    form = setup.form
    photo = upload(client, tenant, image_bytes((20, 20))).json()["id"]
    fields = [
        {"key": form.key("Category"), "value": form.options("Category")[0]},
        {"key": form.key("Photos"), "value": [photo]},
    ]
    made = make_report(client, tenant, setup, form_fields=fields)
    with database.unit_of_work() as session:
        images = session.scalars(
            select(ReportImage.attachment_id).where(ReportImage.report_id == made["id"])
        ).all()
    assert images == [photo]
    again = _post(client, tenant, report_body(setup, form_fields=fields))
    assert again.status_code == 400, again.text  # the photo is that report's already


def test_a_channel_renamed_between_the_read_and_the_insert_is_read_again(
    client: TestClient, database: Database, tenant: Tenant, setup: Setup
) -> None:
    """Another request changes the destination after it was read for this report: the
    insert finds it changed and makes nothing, and the report is made from a new read."""
    if database.dialect != "postgresql":
        pytest.skip("on SQLite the unit holds the write lock: nothing changes meanwhile")
    _patch_channel(client, tenant, setup, name="Renamed once")  # the remembered one fails
    renamed: list[str] = []

    def rename_after_the_read(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if not renamed and statement.startswith("SELECT v4_channels.id, v4_channels.name"):
            renamed.append(statement)
            with database.engine.begin() as other:
                other.execute(
                    update(Channel).where(Channel.id == setup.channel_id).values(name="Twice")
                )

    event.listen(database.engine, "after_cursor_execute", rename_after_the_read)
    try:
        made = _post(client, tenant, report_body(setup))
    finally:
        event.remove(database.engine, "after_cursor_execute", rename_after_the_read)
    assert renamed
    assert made.status_code == 201, made.text
    assert made.json()["account_name"] == "Twice"
