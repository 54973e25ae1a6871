"""Issue 9, items 2 and 3: a target the worker cannot process shows its failure through
the API, backs off (1 minute doubling to 1 hour), is counted in /metrics, and is cleared by
its next success; targets stored with instants outside the supported range before it was
enforced are planned without failing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select, update

from tallybook.evaluations.models import Evaluation
from tallybook.events.store import EventStore
from tallybook.kit.db import Database
from tallybook.targets.models import Target, TargetSchedule
from tallybook.worker.loop import Worker
from tallybook.worker.passes.targets import backoff
from tests.fixtures.tenants import Tenant, make_tenant
from tests.worker.factories import at, new_target, worker_settings

START = at("UTC", 2027, 9, 2, 0, 10)


def metric(client: TestClient, name: str) -> float:
    text = client.get("/metrics").text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                return float(sample.value)
    raise AssertionError(f"{name} not in /metrics")


def schedule_of(database: Database, target_id: str) -> TargetSchedule:
    with database.unit_of_work() as session:
        schedule = session.get(TargetSchedule, uuid.UUID(target_id))
        assert schedule is not None
        session.expunge(schedule)
        return schedule


def store_column(database: Database, target_id: str, **values: Any) -> None:
    """Write a target as an older version of the API could have stored it."""
    with database.unit_of_work() as session:
        session.execute(update(Target).where(Target.id == uuid.UUID(target_id)).values(**values))


def test_backoff_doubles_from_a_minute_to_an_hour() -> None:
    minutes = [backoff(n) / timedelta(minutes=1) for n in (1, 2, 3, 4, 5, 6, 7, 8, 100)]
    assert minutes == [1, 2, 4, 8, 16, 32, 60, 60, 60]


def test_a_failing_target_shows_its_error_backs_off_is_counted_and_recovers(
    client: TestClient, app: Any, database: Database, event_store: EventStore, tenant: Tenant
) -> None:
    target = new_target(client, tenant, target_active_from="2027-09-01T00:00:00Z")
    assert client.get(target.url, headers=target.headers).json()["processing_error"] is None
    # A stored query the worker cannot read: any failure would do.
    store_column(database, target.target_id, reporting_query={"vendor": ""})
    worker = Worker(database, event_store, worker_settings(database), metrics=app.state.metrics)
    failures_before = metric(client, "tallybook_target_failures_total")

    report = worker.run_pass(START)
    assert report.target_failures == 1
    shown = client.get(target.url, headers=target.headers).json()["processing_error"]
    assert shown == {
        "error": "The worker could not process this target; it will try again later.",
        "error_type": "ValidationError",
        "failed_at": "2027-09-02T00:10:00.000Z",
        "failures": 1,
        "next_attempt_at": "2027-09-02T00:11:00.000Z",
    }
    assert "vendor" not in str(shown)  # the exception's text never comes out
    assert metric(client, "tallybook_target_failures_total") - failures_before == 1
    assert metric(client, "tallybook_targets_failing") >= 1

    assert worker.run_pass(START + timedelta(seconds=59)).targets == 0  # backing off
    assert worker.run_pass(START + timedelta(minutes=1)).target_failures == 1
    assert schedule_of(database, target.target_id).next_due_at == START + timedelta(minutes=3)
    assert worker.run_pass(START + timedelta(minutes=3)).target_failures == 1
    schedule = schedule_of(database, target.target_id)
    assert (schedule.failure_count, schedule.next_due_at) == (3, START + timedelta(minutes=7))

    # Fixing the target makes it due at once, and the success clears the failure.
    store_column(database, target.target_id, reporting_query={"vendor": "com.giosg.bolivar"})
    response = client.patch(target.url, json={"name": "fixed"}, headers=target.headers)
    assert response.status_code == 200 and response.json()["processing_error"] is not None
    assert worker.run_pass(START + timedelta(minutes=4)).target_failures == 0
    assert client.get(target.url, headers=target.headers).json()["processing_error"] is None
    assert schedule_of(database, target.target_id).failure_count == 0


def test_the_processing_error_is_read_only(
    client: TestClient, database: Database, tenant: Tenant
) -> None:
    target = new_target(client, tenant)
    response = client.patch(target.url, json={"processing_error": None}, headers=target.headers)
    assert response.status_code == 400
    assert response.json()["errors"][0]["msg"] == "This field is read-only."


LEGACY = [
    ("0001-01-01T00:00:00Z", "P1D"),
    ("0001-01-01T00:00:00Z", "P7D"),
    ("9999-12-31T23:59:59Z", "P999D"),
    ("9999-01-01T00:00:00Z", "P999M"),
]


@pytest.mark.parametrize("zone", ["America/New_York", "Pacific/Kiritimati"])
def test_targets_stored_outside_the_range_before_the_rule_do_not_fail(
    client: TestClient, database: Database, event_store: EventStore, zone: str
) -> None:
    tenant = make_tenant(database, timezone=zone)
    ids = []
    for instant, period in LEGACY:
        target = new_target(client, tenant, reporting_period=period)
        when = datetime.fromisoformat(instant.replace("Z", "+00:00")).astimezone(UTC)
        store_column(database, target.target_id, target_active_from=when)
        ids.append(target.target_id)
    worker = Worker(database, event_store, worker_settings(database))
    report = worker.run_pass(START)
    assert report.target_failures == 0
    for target_id in ids:
        schedule = schedule_of(database, target_id)
        assert schedule.failure_count == 0 and schedule.next_due_at is not None
    with database.unit_of_work() as session:
        evaluated = session.scalars(
            select(Evaluation.target_id).where(Evaluation.target_id.in_(map(uuid.UUID, ids)))
        ).all()
    assert {str(t) for t in evaluated} == set(ids[:2])  # the two anchored in the year 1
