"""The previous read (of the pair, of the report) and the previous alert of the pair, kept
by the database's triggers: in any insert order, with ties, after a deleted alert, and on
PostgreSQL with two transactions at once."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert, select

from tallybook.kit.db import Database
from tallybook.saferme.models import Alert, ReportRead
from tests.fixtures.tenants import Tenant, add_user
from tests.saferme.analytics.helpers import ANALYTICS, iso
from tests.saferme.factories import V4, created, make_report, make_setup, v4_headers

T0 = datetime(2021, 5, 3, 9, tzinfo=UTC)


def _expected_previous(
    rows: list[dict[str, Any]], same: Callable[[Any, Any], bool]
) -> dict[int, Any]:
    """Each row's previous one by (created_at, id), recomputed from scratch."""
    ordered = sorted(rows, key=lambda r: (r["created_at"], r["id"]))
    found = {}
    for i, row in enumerate(ordered):
        before = [r for r in ordered[:i] if same(r, row)]
        found[row["id"]] = before[-1]["created_at"] if before else None
    return found


def _rows(database: Database, table: Any, report_id: int) -> list[dict[str, Any]]:
    with database.engine.connect() as connection:
        return [
            dict(row._mapping)
            for row in connection.execute(select(table).where(table.report_id == report_id))
        ]


def test_reads_in_any_order_know_their_previous_ones(
    client: TestClient, database: Database, tenant: Tenant
) -> None:
    setup = make_setup(client, tenant)
    report = make_report(client, tenant, setup, created_at=iso(T0))
    readers = [tenant, add_user(database, tenant), add_user(database, tenant)]
    offsets = [5, 1, 3, 3, 0, 9, 1, 7, 2, 2, 8]  # ties, and out of order
    rng = random.Random(3)
    for offset in offsets:
        reader = rng.choice(readers)
        body = {"report_read": {"created_at": iso(T0 + timedelta(minutes=offset))}}
        url = f"{V4}/reports/{report['id']}/reads"
        created(client.post(url, json=body, headers=v4_headers(reader)))
    rows = _rows(database, ReportRead, report["id"])
    pairs = _expected_previous(rows, lambda a, b: a["user_number"] == b["user_number"])
    reports = _expected_previous(rows, lambda a, b: True)
    for row in rows:
        assert row["previous_pair_read_at"] == pairs[row["id"]], row
        assert row["previous_report_read_at"] == reports[row["id"]], row


def test_a_deleted_alert_hands_its_place_to_the_one_after_it(
    client: TestClient, database: Database, tenant: Tenant
) -> None:
    setup = make_setup(client, tenant)
    report = make_report(client, tenant, setup, created_at=iso(T0))
    ids = []
    for minutes in (10, 20, 30):
        body = {
            "notification": {
                "user_id": tenant.user_number,
                "report_id": report["id"],
                "created_at": iso(T0 + timedelta(minutes=minutes)),
            }
        }
        ids.append(
            created(client.post(f"{V4}/notifications", json=body, headers=v4_headers(tenant)))["id"]
        )

    def unique(start_minutes: int) -> Any:
        query = {
            "channel_id": setup.channel_id,
            "start_date": iso(T0 + timedelta(minutes=start_minutes)),
            "end_date": iso(T0 + timedelta(hours=1)),
            "fields": "total_alerts,unique_alerts",
        }
        response = client.get(
            f"{ANALYTICS}/user_awareness", params=query, headers=v4_headers(tenant)
        )
        assert response.status_code == 200, response.text
        return [(row["total_alerts"], row["unique_alerts"]) for row in response.json()]

    assert unique(15) == [(2, 1)]
    response = client.delete(f"{V4}/notifications/{ids[1]}", headers=v4_headers(tenant))
    assert response.status_code == 204, response.text
    rows = {row["id"]: row for row in _rows(database, Alert, report["id"])}
    assert rows[ids[2]]["previous_pair_alert_at"] == T0 + timedelta(minutes=10)
    assert unique(15) == [(1, 1)]
    assert unique(5) == [(2, 1)]
    client.delete(f"{V4}/notifications/{ids[0]}", headers=v4_headers(tenant))
    assert _rows(database, Alert, report["id"])[0]["previous_pair_alert_at"] is None


def test_two_reads_of_a_report_at_once_see_each_other(
    client: TestClient, database: Database, tenant: Tenant
) -> None:
    if database.dialect != "postgresql":
        pytest.skip("SQLite has one writer at a time")
    setup = make_setup(client, tenant)
    report = make_report(client, tenant, setup, created_at=iso(T0))
    other = add_user(database, tenant)

    def read(user: Tenant, minutes: int) -> dict[str, Any]:
        return {
            "organization_id": tenant.org_id,
            "report_id": report["id"],
            "user_number": user.user_number,
            "channel_id": setup.channel_id,
            "created_at": T0 + timedelta(minutes=minutes),
        }

    first = database.engine.connect()
    transaction = first.begin()
    first.execute(insert(ReportRead).values(read(tenant, 1)))
    done = threading.Event()

    def second() -> None:
        with database.engine.begin() as connection:
            connection.execute(insert(ReportRead).values(read(other, 2)))
        done.set()

    thread = threading.Thread(target=second)
    thread.start()
    time.sleep(0.5)
    assert not done.is_set()  # waiting for the first transaction's lock on the report
    transaction.commit()
    first.close()
    thread.join(10)
    assert done.is_set()
    rows = sorted(_rows(database, ReportRead, report["id"]), key=lambda r: r["created_at"])
    assert [r["previous_report_read_at"] for r in rows] == [None, T0 + timedelta(minutes=1)]
