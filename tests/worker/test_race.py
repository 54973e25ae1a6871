"""Four workers racing over the same due work send each card exactly once (both backends):
four workers in one process, and four `tallybook worker` processes."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select

from tallybook.events.store import EventStore
from tallybook.kit.db import Database
from tallybook.notifications.models import DeliveryAttempt, Notification
from tallybook.worker.loop import Worker
from tests.fixtures.slack_server import SlackServer
from tests.fixtures.tenants import Tenant
from tests.notifications.factories import create
from tests.worker.factories import (
    add_events,
    at,
    make_worker,
    new_target,
    notifications,
    worker_process,
    worker_settings,
)

TARGETS = 6
SETTINGS_PER_TARGET = 3
WORKERS = 4


def test_four_workers_racing_send_each_card_once(
    client: TestClient,
    database: Database,
    event_store: EventStore,
    new_tenant: object,
    slack_server: SlackServer,
) -> None:
    tenant: Tenant = new_tenant()  # type: ignore[operator]
    targets = []
    for t in range(TARGETS):
        target = new_target(
            client,
            tenant,
            name=f"Race {t}",
            reporting_threshold=1,
            target_active_from="2027-09-01T00:00:00Z",
        )
        for s in range(SETTINGS_PER_TARGET):
            hook = slack_server.webhook_url(f"{t}-{s}")
            create(client, target, "slack", {"incoming_webhook_url": hook})
        targets.append(target)
    add_events(event_store, tenant.org_id, at("UTC", 2027, 9, 1, 8), at("UTC", 2027, 9, 2, 8))
    settings = worker_settings(database, delivery_concurrency=4, evaluation_concurrency=2)
    # each worker has its own engine and connection pool, as separate processes would
    databases = [Database(settings) for _ in range(WORKERS)]
    workers = [
        Worker(db, event_store, settings, name=f"racer-{i}") for i, db in enumerate(databases)
    ]
    start = threading.Barrier(WORKERS)
    errors: list[BaseException] = []

    def run(worker: Worker) -> None:
        try:
            start.wait()
            worker.run_pass(at("UTC", 2027, 9, 2, 9))  # Sep 1 closed, Sep 2 alerting
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    for db in databases:
        db.close()
    assert errors == []

    expected = TARGETS * SETTINGS_PER_TARGET * 2  # a snapshot of Sep 1 and an alert for Sep 2
    received = Counter((m["hook"], _kind(m)) for m in slack_server.messages)
    assert len(slack_server.messages) == expected, received
    assert set(received.values()) == {1}
    for target in targets:
        rows = notifications(database, target.target_id)
        assert len(rows) == SETTINGS_PER_TARGET * 2
        assert {(r.state, r.attempts) for r in rows} == {("sent", 1)}


def _kind(message: dict[str, object]) -> str:
    text = str(message.get("text", ""))
    return "alert" if "so far" in text.lower() else "snapshot"


def test_four_worker_processes_racing_deliver_each_card_once(
    client: TestClient,
    database: Database,
    event_store: EventStore,
    new_tenant: object,
    slack_server: SlackServer,
    tmp_path: Path,
) -> None:
    tenant: Tenant = new_tenant()  # type: ignore[operator]
    hooks = 0
    for t in range(10):
        target = new_target(
            client, tenant, name=f"Race {t}", target_active_from="2027-09-01T00:00:00Z"
        )
        for _ in range(12):
            create(
                client,
                target,
                "slack",
                {"incoming_webhook_url": slack_server.webhook_url(f"{hooks}")},
            )
            hooks += 1
    now = at("UTC", 2027, 9, 2, 0, 10)
    make_worker(database, event_store).evaluate(now)  # 120 snapshots queued, 3 claims' worth
    slack_server.answer_delay = 0.05  # each process is still sending when the others start
    processes = [
        worker_process(database, slack_server, tmp_path / f"w{i}", now, delivery_concurrency="2")
        for i in range(WORKERS)
    ]
    for process in processes:
        _, stderr = process.communicate(timeout=120)
        assert process.returncode == 0, stderr.decode()

    received = Counter(str(m["hook"]) for m in slack_server.messages)
    assert len(received) == hooks
    assert set(received.values()) == {1}
    with database.unit_of_work() as session:
        rows = list(
            session.scalars(
                select(Notification).where(Notification.organization_id == tenant.org_id)
            )
        )
        workers = set(
            session.scalars(
                select(DeliveryAttempt.worker).where(
                    DeliveryAttempt.organization_id == tenant.org_id
                )
            )
        )
    assert len(rows) == hooks
    assert {(r.state, r.attempts) for r in rows} == {("sent", 1)}
    assert len(workers) > 1  # the processes shared the work: they did race
