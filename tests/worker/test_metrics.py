"""GET /metrics: requests by route template, the queues read from the store, and the
outcomes of this process's worker (both backends)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select, update

from tallybook.events.store import EventStore
from tallybook.kit.db import Database, utcnow
from tallybook.metrics import Metrics
from tallybook.notifications.models import Notification
from tallybook.settings import Settings
from tallybook.worker.loop import Worker
from tests.fixtures.slack_server import SlackServer
from tests.fixtures.tenants import Tenant
from tests.notifications.factories import create
from tests.worker.factories import at, new_target, worker_settings

CLOSED = at("UTC", 2027, 9, 2, 0, 10)


def scrape(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of ``GET /metrics`` by name and labels."""
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_requests_are_counted_by_route_template_never_by_id(
    client: TestClient, tenant: Tenant
) -> None:
    route = "/api/objectives/v1/orgs/{org_id}/workflows/{workflow_id}"
    before = scrape(client)
    missing = f"{tenant.objectives}/workflows/{uuid.uuid4()}"
    assert client.get(missing, headers=tenant.headers).status_code == 404
    assert client.get("/no/such/path").status_code == 404
    after = scrape(client)

    labels = {"method": "GET", "route": route, "status": "404"}
    counted = value(after, "tallybook_http_requests_total", **labels)
    assert counted - value(before, "tallybook_http_requests_total", **labels) == 1
    unmatched = {"method": "GET", "route": "unmatched", "status": "404"}
    counted = value(after, "tallybook_http_requests_total", **unmatched)
    assert counted - value(before, "tallybook_http_requests_total", **unmatched) == 1
    latency = {"method": "GET", "route": route}
    assert value(after, "tallybook_http_request_duration_seconds_count", **latency) >= 1
    text = client.get("/metrics").text
    assert str(tenant.org_id) not in text  # no ids, no tenant data


def test_labels_stay_bounded_for_odd_methods_and_bodies_refused_before_routing(
    client: TestClient,
) -> None:
    before = scrape(client)
    assert client.request("BREW", "/healthz").status_code == 405
    big = {"content-length": str(50 * 1024 * 1024), "content-type": "application/json"}
    assert client.post("/events/v2/store/untrusted", headers=big, content=b"[]").status_code == 413
    after = scrape(client)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("tallybook_http_requests_total", method="other", route="/healthz", status="405")
    refused = {"method": "POST", "route": "unmatched", "status": "413"}  # before routing
    assert grew("tallybook_http_requests_total", **refused) == 1
    assert not any(labels and dict(labels).get("method") == "BREW" for _, labels in after)


def test_a_store_that_cannot_be_read_leaves_the_counters_scrapable(database: Database) -> None:
    unreachable = Settings(
        data_dir=database.settings.data_dir,
        database_url="postgresql+psycopg://nobody@127.0.0.1:1/none",
    )
    broken = Database(unreachable)
    try:
        metrics = Metrics(broken)
        metrics.observe_pass(3, {"sent": 2})
        samples = {
            sample.name: sample.value
            for family in text_string_to_metric_families(metrics.render().decode())
            for sample in family.samples
        }
    finally:
        broken.close()
    assert samples["tallybook_queues_read"] == 0
    assert samples["tallybook_deliveries_total"] == 2
    assert "tallybook_notifications_pending" not in samples


def test_queues_and_delivery_outcomes(
    client: TestClient,
    app: Any,
    database: Database,
    event_store: EventStore,
    tenant: Tenant,
    slack_server: SlackServer,
) -> None:
    target = new_target(client, tenant, target_active_from="2027-09-01T00:00:00Z")
    for name in ("a", "b"):
        create(client, target, "slack", {"incoming_webhook_url": slack_server.webhook_url(name)})
    metrics = app.state.metrics
    worker = Worker(database, event_store, worker_settings(database), metrics=metrics)
    assert worker.evaluate(CLOSED) == 1  # two snapshot cards queued, not yet sent
    mine = Notification.target_id == uuid.UUID(target.target_id)
    with database.unit_of_work() as session:  # one has been due for a minute, by the clock
        session.execute(
            update(Notification).where(mine).values(next_attempt_at=utcnow() + timedelta(days=1))
        )
        first = session.scalars(select(Notification.id).where(mine).limit(1)).one()
        session.execute(
            update(Notification)
            .where(Notification.id == first)
            .values(next_attempt_at=utcnow() - timedelta(minutes=1))
        )
    queued = scrape(client)
    assert value(queued, "tallybook_queues_read") == 1
    assert value(queued, "tallybook_notifications_pending") == 2
    assert value(queued, "tallybook_notifications_due") == 1
    assert value(queued, "tallybook_notifications_due_lag_seconds") >= 60
    sent_before = value(queued, "tallybook_deliveries_total", outcome="sent")

    report = worker.run_pass(CLOSED + timedelta(days=2))  # the next days' cards too
    assert set(report.deliveries) == {"sent"} and report.deliveries["sent"] >= 2
    done = scrape(client)
    assert value(done, "tallybook_notifications_pending") == 0
    assert value(done, "tallybook_notifications_due") == 0
    assert value(done, "tallybook_notifications_due_lag_seconds") == 0
    sent = value(done, "tallybook_deliveries_total", outcome="sent") - sent_before
    assert sent == report.deliveries["sent"]
    assert value(done, "tallybook_targets_processed_total") >= 1


def test_a_worker_process_serves_its_metrics_on_a_port(
    database: Database, slack_server: SlackServer, tmp_path: Path, postgres_events_url: str
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        **os.environ,
        "TALLYBOOK_DATABASE_URL": database.settings.resolved_database_url,
        # A worker of its own needs a server event store (DuckDB's file is serve's).
        "TALLYBOOK_EVENTS_URL": database.settings.events_url or postgres_events_url,
        "TALLYBOOK_DATA_DIR": str(tmp_path),
        "TALLYBOOK_SECRET_KEY": "test-secret-key-not-for-production",
        "TALLYBOOK_LOG_LEVEL": "warning",
    }
    command = [sys.executable, "-m", "tallybook", "worker", "--metrics-port", str(port)]
    process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE)
    try:
        text = ""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and "tallybook_notifications_pending" not in text:
            try:
                text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
            except httpx.HTTPError:
                time.sleep(0.2)
        assert "tallybook_notifications_pending" in text
        assert "tallybook_targets_processed_total" in text
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr.decode()
