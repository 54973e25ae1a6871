"""``GET /metrics`` in Prometheus' text format (DESIGN §10).

Each app (and each worker process started with ``--metrics-port``) has a registry of its
own. Request counts and latencies, and the outcomes of the deliveries made by a worker in
this process, are counted here in memory since the process started. The queues are read
from the relational store at each scrape, so every process shows the whole installation's
backlog, whichever process does the work. Nothing is labelled by organisation: the
numbers are an operator's, totals over every tenant, and carry no tenant data.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from tallybook.exports.models import ReportExport
from tallybook.kit.db import Database, utcnow
from tallybook.notifications.models import Notification
from tallybook.notifications.states import NotificationState
from tallybook.targets.models import TargetSchedule

router = APIRouter(tags=["Operations"])
log = logging.getLogger("tallybook.metrics")


class Metrics:
    def __init__(self, database: Database) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "tallybook_http_requests",
            "HTTP requests answered, by route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "tallybook_http_request_duration_seconds",
            "Time to answer an HTTP request, by route template.",
            ["method", "route"],
            registry=self.registry,
        )
        self.deliveries = Counter(
            "tallybook_deliveries",
            "Outcomes of the notification deliveries made by this process's worker.",
            ["outcome"],
            registry=self.registry,
        )
        self.targets = Counter(
            "tallybook_targets_processed",
            "Targets whose due work this process's worker did.",
            registry=self.registry,
        )
        self.target_failures = Counter(
            "tallybook_target_failures",
            "Targets whose processing failed in this process's worker (each failure).",
            registry=self.registry,
        )
        self.exports = Counter(
            "tallybook_exports",
            "Outcomes of the report exports made by this process's worker (and expired files "
            "deleted).",
            ["outcome"],
            registry=self.registry,
        )
        self.registry.register(QueueCollector(database))

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def observe_pass(
        self,
        targets: int,
        deliveries: Mapping[str, int],
        target_failures: int = 0,
        exports: Mapping[str, int] | None = None,
    ) -> None:
        self.targets.inc(targets)
        self.target_failures.inc(target_failures)
        for outcome, count in deliveries.items():
            self.deliveries.labels(outcome).inc(count)
        for outcome, count in (exports or {}).items():
            self.exports.labels(outcome).inc(count)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class QueueCollector(Collector):
    """The work waiting in the relational store, read at each scrape."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def collect(self) -> Iterator[Metric]:
        now = utcnow()
        due = Notification.next_attempt_at <= now
        try:
            with self.database.unit_of_work() as session:
                pending, due_now, oldest = session.execute(
                    select(
                        func.count(),
                        func.count().filter(due),
                        func.min(Notification.next_attempt_at).filter(due),
                    ).where(Notification.state == NotificationState.PENDING)
                ).one()
                schedules, failing = session.execute(
                    select(
                        func.count().filter(TargetSchedule.next_due_at <= now),
                        func.count().filter(TargetSchedule.failure_count > 0),
                    )
                ).one()
                exports = session.scalar(
                    select(func.count()).where(ReportExport.completed_at.is_(None))
                )
        except Exception as exc:  # the counters are still worth a scrape; no SQL in logs
            log.warning("cannot read the queues for metrics", extra={"error": type(exc).__name__})
            yield _gauge(READ_OK, READ_OK_HELP, 0)
            return
        yield _gauge(READ_OK, READ_OK_HELP, 1)
        yield _gauge("tallybook_notifications_pending", "Notifications not yet sent.", pending)
        yield _gauge(
            "tallybook_notifications_due",
            "Pending notifications whose time to be attempted has come.",
            due_now,
        )
        lag = (now - oldest).total_seconds() if oldest is not None else 0.0
        yield _gauge(
            "tallybook_notifications_due_lag_seconds",
            "How long the longest-waiting due notification has been due.",
            lag,
        )
        yield _gauge(
            "tallybook_targets_due", "Targets whose scheduled work is due.", schedules or 0
        )
        yield _gauge(
            "tallybook_targets_failing",
            "Targets whose latest processing by a worker failed.",
            failing or 0,
        )
        yield _gauge("tallybook_exports_pending", "Report exports not yet completed.", exports or 0)


READ_OK = "tallybook_queues_read"
READ_OK_HELP = "1 when the queue gauges below could be read from the relational store, else 0."


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Metrics."}},
)
def metrics(request: Request) -> Response:
    body = request.app.state.metrics.render()
    return Response(body, media_type=CONTENT_TYPE_LATEST)
