"""A worker killed with kill -9 in the middle of delivery loses nothing and duplicates
nothing after restart (both backends; the worker is a real `tallybook worker` process).

Leases run on the real clock. The dead worker's lease is long, so a loaded machine cannot
outlast it before the test checks that it still guards the card; the test then ends it by
moving ``lease_until`` into the past, as time would. That a lease frees itself in real
time is shown in test_edge_cases."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from tallybook.events.store import EventStore
from tallybook.kit.db import Database, utcnow
from tallybook.notifications.models import Notification
from tests.fixtures.slack_server import SlackServer
from tests.fixtures.tenants import Tenant
from tests.notifications.factories import create
from tests.worker.factories import (
    add_events,
    at,
    attempts,
    make_worker,
    new_target,
    notifications,
    worker_process,
)

CLOSED = at("UTC", 2027, 10, 2, 0, 10)
LEASE = 120.0  # far longer than the test's steps take, even under load


def _queue_one_card(
    client: TestClient, database: Database, store: EventStore, tenant: Tenant
) -> str:
    target = new_target(client, tenant, target_active_from="2027-10-01T00:00:00Z")
    create(client, target, "slack", {"token": "xoxb-crash-test-0000", "channel": "C0CRASH01"})
    add_events(store, tenant.org_id, at("UTC", 2027, 10, 1, 12))
    make_worker(database, store).evaluate(CLOSED)  # queued, not delivered
    (row,) = notifications(database, target.target_id)
    assert row.state == "pending"
    return target.target_id


def _wait_for(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


@pytest.mark.slow
@pytest.mark.parametrize("stage", ["files.getUploadURLExternal", "chat.postMessage"])
def test_kill_9_mid_delivery_then_restart_sends_exactly_once(
    stage: str,
    client: TestClient,
    database: Database,
    event_store: EventStore,
    tenant: Tenant,
    slack_server: SlackServer,
    tmp_path: Path,
) -> None:
    target_id = _queue_one_card(client, database, event_store, tenant)
    # Slack receives the request and holds it; the worker dies waiting for the answer.
    hold = slack_server.hold(key=stage)
    process = worker_process(database, slack_server, tmp_path, CLOSED, lease_seconds=str(LEASE))
    try:
        assert hold.arrived.wait(timeout=60), process.stderr.read() if process.stderr else ""
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        hold.release()  # Slack goes on with what it received, as the real one would
    if stage == "chat.postMessage":  # the post the dead worker sent lands in the channel
        _wait_for(lambda: len(slack_server.messages) == 1, "the held post")
    else:
        _wait_for(lambda: len(slack_server.uploads) == 1, "the held upload request")

    (row,) = notifications(database, target_id)
    assert (row.state, row.attempts) == ("pending", 1)
    assert row.lease_until is not None and row.lease_until > utcnow()
    assert make_worker(database, event_store).deliver(CLOSED) == {}  # the lease still holds

    with database.unit_of_work() as session:  # the dead worker's lease runs out
        session.execute(
            update(Notification)
            .where(Notification.id == row.id)
            .values(lease_until=utcnow() - timedelta(seconds=1))
        )
    restarted = worker_process(database, slack_server, tmp_path, CLOSED, lease_seconds=str(LEASE))
    _out, err = restarted.communicate(timeout=60)
    assert restarted.returncode == 0, err.decode()

    assert len(slack_server.messages) == 1
    (row,) = notifications(database, target_id)
    assert row.state == "sent"
    outcomes = [a.outcome for a in attempts(database, row.id)]
    assert outcomes == ["interrupted", "sent"]
