"""A form's fields and options are read once per process (no route changes a form once
made), but never kept from a transaction that could still roll back."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tallybook.auth.principal import Principal
from tallybook.kit.db import Database
from tallybook.organizations.models import Organization, User
from tallybook.saferme.auth import TeamMember
from tallybook.saferme.forms.repository import field_defs
from tallybook.saferme.forms.schemas import FormCreate
from tallybook.saferme.forms.service import create_form
from tallybook.saferme.teams import team_id_of
from tests.fixtures.statements import statements
from tests.fixtures.tenants import Tenant
from tests.saferme.factories import (
    V4,
    make_form,
    make_report,
    make_setup,
    report_body,
    v4_headers,
)


def test_the_second_report_of_a_form_does_not_read_its_fields(
    client: TestClient, database: Database, tenant: Tenant
) -> None:
    setup = make_setup(client, tenant)
    make_report(client, tenant, setup)
    with statements(database) as seen:
        make_report(client, tenant, setup)
    assert seen
    assert not [s for s in seen if "v4_form_fields" in s]


def test_a_bad_report_rolled_back_leaves_the_remembered_fields_usable(
    client: TestClient, tenant: Tenant
) -> None:
    setup = make_setup(client, tenant)
    category = setup.form.key("Category")
    bad = report_body(setup, form_fields=[{"key": category, "value": "nope"}])
    # The refused report is the first to read the form: its fields are remembered by a
    # request whose transaction then rolls back.
    for _ in range(2):
        refused = client.post(f"{V4}/reports", headers=v4_headers(tenant), json=bad)
        assert refused.status_code == 400, refused.text
        make_report(client, tenant, setup)


def test_a_form_made_in_a_transaction_that_rolled_back_is_not_remembered(
    client: TestClient, database: Database, tenant: Tenant
) -> None:
    class RolledBack(Exception):
        pass

    make_form(client, tenant)  # the team exists
    with database.unit_of_work() as session:
        user = session.scalars(select(User).where(User.id == tenant.user_id)).one()
        organization = session.scalars(
            select(Organization).where(Organization.id == tenant.org_id)
        ).one()
        member = TeamMember(Principal(user, organization), team_id_of(session, tenant.org_id))
    unborn = FormCreate.model_validate(
        {"name": "Never", "fields": [{"label": "Gone", "field_type": "ShortTextBox"}]}
    )
    made: list[int] = []

    def make_read_and_fail() -> None:
        with database.unit_of_work() as session:
            form_id = create_form(session, member, unborn).id
            made.append(form_id)
            defs = field_defs(session, tenant.org_id, [form_id])
            assert [d.row.label for d in defs[form_id]] == ["Gone"]
            raise RolledBack

    with pytest.raises(RolledBack):
        make_read_and_fail()
    # SQLite may give the next form the id the rolled-back one had
    form = make_form(client, tenant, [{"label": "Kept", "field_type": "ShortTextBox"}])
    with database.unit_of_work() as session:
        defs = field_defs(session, tenant.org_id, [form.id, made[0]])
    assert [d.row.label for d in defs[form.id]] == ["Kept"]
    if made[0] != form.id:
        assert made[0] not in defs
