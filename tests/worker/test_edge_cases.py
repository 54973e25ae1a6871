"""Cases from review: leases that expire mid-batch, stale outcomes, digests whose address
changed, period changes, windows opening mid-period, and edits during a pass."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import update

from tallybook.evaluations import repository as schedules
from tallybook.evaluations.flow import process_targets
from tallybook.events.store import EventStore
from tallybook.kit.db import Database
from tallybook.kit.leases import new_lease_owner
from tallybook.notifications.outbox import queue as outbox
from tallybook.targets import repository as targets_repository
from tallybook.targets.models import TargetSchedule
from tests.fixtures.slack_server import SlackServer
from tests.fixtures.smtp_server import SmtpServer
from tests.fixtures.tenants import Tenant
from tests.notifications.factories import create
from tests.worker.factories import (
    add_events,
    at,
    attempts,
    make_worker,
    new_target,
    notifications,
    world,
)

CLOSED = at("UTC", 2027, 9, 2, 0, 10)


def test_a_lease_lost_mid_batch_does_not_send_twice(
    client: TestClient,
    database: Database,
    event_store: EventStore,
    tenant: Tenant,
    slack_server: SlackServer,
) -> None:
    target = new_target(client, tenant, target_active_from="2027-09-01T00:00:00Z")
    for name in ("a", "b"):
        create(client, target, "slack", {"incoming_webhook_url": slack_server.webhook_url(name)})
    options = {"lease_seconds": 1.0, "delivery_concurrency": 1}
    make_worker(database, event_store, **options).evaluate(CLOSED)
    hold = slack_server.hold(key="hooks")  # A's first card hangs past its lease
    first = make_worker(database, event_store, **options)
    thread = threading.Thread(target=first.deliver, args=(CLOSED,))
    thread.start()
    assert hold.arrived.wait(10)
    time.sleep(1.3)
    make_worker(database, event_store, **options).deliver(CLOSED)  # B takes the rest over
    hold.release()
    thread.join(20)
    per_hook = Counter(m["hook"] for m in slack_server.messages)
    # The card A held outlived its lease, so B sent it again: the window a lease shorter
    # than a delivery leaves (the default lease outlasts any delivery). The card A had not
    # started went once, by B: A renews its lease before each send and found it taken.
    assert sorted(per_hook.values()) == [1, 2]
    assert {r.state for r in notifications(database, target.target_id)} == {"sent"}


def test_a_stale_outcome_does_not_overwrite_a_newer_claim(
    client: TestClient,
    database: Database,
    event_store: EventStore,
    tenant: Tenant,
    slack_server: SlackServer,
) -> None:
    target = new_target(client, tenant, target_active_from="2027-09-01T00:00:00Z")
    create(client, target, "slack", {"incoming_webhook_url": slack_server.webhook_url("a")})
    make_worker(database, event_store).evaluate(CLOSED)

    def claim(owner: str, lease: float) -> outbox.Claim:
        with database.unit_of_work() as session:
            (claimed,) = outbox.claim_due(
                session, as_of=CLOSED, limit=50, owner=owner, lease_seconds=lease, worker="w"
            )
            return claimed

    a, b = new_lease_owner("A"), new_lease_owner("B")
    stale = claim(a, 0.3)
    time.sleep(0.4)
    claim(b, 60)  # B takes the expired lease over
    with database.unit_of_work() as session:
        assert outbox.lock_claimed(session, stale.notification_ids, a) == {}
    (row,) = notifications(database, target.target_id)
    assert (row.state, row.lease_owner) == ("pending", b)
    assert [x.outcome for x in attempts(database, row.id)] == ["interrupted", None]


def test_a_digest_goes_to_each_setting_s_current_address(
    client: TestClient,
    database: Database,
    event_store: EventStore,
    tenant: Tenant,
    smtp_server: SmtpServer,
) -> None:
    first = new_target(client, tenant, name="Leads", target_active_from="2027-09-01T00:00:00Z")
    second = new_target(client, tenant, name="Sales", target_active_from="2027-09-01T00:00:00Z")
    ids = []
    for target in (first, second):
        body = {"email": "alice@example.com", "is_bundleable": True}
        ids.append(create(client, target, "email", body)["id"])
    worker = make_worker(
        database,
        event_store,
        smtp_host=smtp_server.host,
        smtp_port=smtp_server.port,
        email_bundle_window=600,
    )
    worker.run_pass(CLOSED)
    response = client.patch(
        first.kind("email", ids[0]), json={"email": "bob@example.com"}, headers=first.headers
    )
    assert response.status_code == 200
    worker.deliver(at("UTC", 2027, 9, 2, 0, 20))
    sent = {}
    for mail in smtp_server.received:
        plain = mail.message.get_body(("plain",))
        assert plain is not None
        sent[mail.rcpt_tos] = plain.get_content()
    assert set(sent) == {("alice@example.com",), ("bob@example.com",)}
    assert "Sales" in sent[("alice@example.com",)] and "Leads" not in sent[("alice@example.com",)]
    assert "Leads" in sent[("bob@example.com",)]


def test_changing_the_period_from_daily_to_weekly_evaluates_the_week(
    client: TestClient, database: Database, event_store: EventStore, tenant: Tenant
) -> None:
    target = new_target(
        client, tenant, target_active_from="2027-09-06T00:00:00Z", reporting_threshold=1
    )  # a Monday
    world(client, database, target)
    add_events(event_store, tenant.org_id, *[at("UTC", 2027, 9, d, 12) for d in range(6, 13)])
    worker = make_worker(database, event_store)
    worker.run_pass(at("UTC", 2027, 9, 7, 0, 10))
    worker.run_pass(at("UTC", 2027, 9, 8, 0, 10))
    response = client.patch(target.url, json={"reporting_period": "P1W"}, headers=target.headers)
    assert response.status_code == 200
    worker.run_pass(at("UTC", 2027, 9, 13, 0, 10))
    periods = [
        e["period"]
        for e in client.get(f"{target.url}/evaluations", headers=target.headers).json()["results"]
    ]
    assert "2027-09-06T00:00:00.000Z/2027-09-13T00:00:00.000Z" in periods
    weekly = [
        n
        for n in notifications(database, target.target_id)
        if n.period_end - n.period_start == timedelta(days=7)
    ]
    assert [(n.kind, n.state) for n in weekly] == [("snapshot", "sent")]


def test_checks_start_when_the_active_window_opens_mid_period(
    client: TestClient, database: Database, event_store: EventStore, tenant: Tenant
) -> None:
    target = new_target(
        client, tenant, target_active_from="2027-09-20T12:00:00Z", reporting_threshold=1
    )
    world(client, database, target)
    worker = make_worker(database, event_store)
    worker.run_pass(at("UTC", 2027, 9, 20, 9))  # before the window opens
    add_events(event_store, tenant.org_id, at("UTC", 2027, 9, 20, 13))
    worker.run_pass(at("UTC", 2027, 9, 20, 13, 30))
    assert [n.kind for n in notifications(database, target.target_id)] == ["alert"]


def test_a_settings_change_during_a_pass_is_not_forgotten(
    client: TestClient, database: Database, event_store: EventStore, tenant: Tenant
) -> None:
    now = at("UTC", 2027, 9, 2, 9)
    target = new_target(
        client, tenant, reporting_period="P1M", target_active_from="2027-09-01T00:00:00Z"
    )
    target_id = uuid.UUID(target.target_id)
    worker = make_worker(database, event_store)
    worker.run_pass(now - timedelta(hours=1))  # no settings: next look at the month's end
    with database.unit_of_work() as session:
        session.execute(
            update(TargetSchedule)
            .where(TargetSchedule.target_id == target_id)
            .values(next_due_at=None)
        )
    owner = new_lease_owner("W")
    with database.unit_of_work() as session:
        assert target_id in schedules.claim_due_schedules(
            session, as_of=now, limit=50, owner=owner, lease_seconds=60
        )

    def measure_while_the_api_changes_a_setting(function: Any, items: Any) -> Any:
        with database.unit_of_work() as api:
            targets_repository.make_due(api, tenant.org_id, target_id)
        return map(function, items)

    with database.unit_of_work() as session:
        claimed = schedules.claimed_schedules(session, [target_id], owner)
        process_targets(
            session,
            event_store,
            claimed,
            owner,
            now,
            worker.config.timing,
            timedelta(0),
            measure_while_the_api_changes_a_setting,
        )
    with database.unit_of_work() as session:
        due = schedules.claim_due_schedules(
            session, as_of=now, limit=50, owner=new_lease_owner("X"), lease_seconds=60
        )
    assert target_id in due


def test_a_digest_is_claimed_whole_and_by_one_worker(
    client: TestClient, database: Database, event_store: EventStore, tenant: Tenant
) -> None:
    for name in ("Leads", "Sales", "Returns"):
        target = new_target(client, tenant, name=name, target_active_from="2027-09-01T00:00:00Z")
        create(client, target, "email", {"email": "team@example.com", "is_bundleable": True})
    make_worker(database, event_store, email_bundle_window=600).evaluate(CLOSED)
    window_end = at("UTC", 2027, 9, 2, 0, 20)

    def claim(session: Any, owner: str) -> list[outbox.Claim]:
        return outbox.claim_due(
            session, as_of=window_end, limit=1, owner=owner, lease_seconds=60, worker="w"
        )

    first = database.sessionmaker()
    try:
        (digest,) = claim(first, new_lease_owner("A"))
        assert len(digest.notification_ids) == 3  # the whole address, though limit is 1
        if database.dialect == "postgresql":  # SQLite's write lock would make B wait instead
            second = database.sessionmaker()
            try:
                assert claim(second, new_lease_owner("B")) == []  # A holds the address
            finally:
                second.rollback()
                second.close()
        first.commit()
    finally:
        first.close()
