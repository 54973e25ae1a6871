"""Four workers racing over the same due work send each card exactly once (both backends)."""

from __future__ import annotations

import threading
from collections import Counter

from fastapi.testclient import TestClient

from tallybook.events.store import EventStore
from tallybook.kit.db import Database
from tallybook.worker import Worker
from tests.fixtures.slack_server import SlackServer
from tests.fixtures.tenants import Tenant
from tests.notifications.helpers import create
from tests.worker.helpers import add_events, at, new_target, notifications, worker_settings

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
