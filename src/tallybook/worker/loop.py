"""The worker's loop: passes over due targets and the notification outbox (DESIGN §6).

A pass, as of an instant, does everything due then: the target pass
(``passes.targets``), then the delivery pass (``passes.deliveries``). Any number of
workers may run passes at once against one database.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from tallybook.events.store import EventStore
from tallybook.kit.db import Database, utcnow
from tallybook.metrics import Metrics
from tallybook.settings import Settings
from tallybook.worker.config import WorkerConfig
from tallybook.worker.failures import log, log_failure
from tallybook.worker.passes.deliveries import DeliveryPass, moving
from tallybook.worker.passes.targets import TargetPass


@dataclass
class PassReport:
    targets: int = 0
    target_failures: int = 0
    deliveries: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


class Worker:
    def __init__(
        self,
        database: Database,
        store: EventStore,
        settings: Settings,
        name: str | None = None,
        *,
        metrics: Metrics | None = None,
    ) -> None:
        self.database = database
        self.metrics = metrics
        self.store = store
        self.settings = settings
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.config = WorkerConfig.from_settings(settings)
        self.targets = TargetPass(database, store, self.config, self.name)
        self.deliveries = DeliveryPass(database, settings, self.config, self.name)

    def run_pass(self, as_of: datetime | None = None) -> PassReport:
        """Everything due as of ``as_of`` (default: now); returns what was done."""
        started = time.monotonic()
        as_of = as_of or utcnow()
        clock = moving(as_of)
        targets = self.evaluate(as_of)
        report = PassReport(
            targets=targets,
            target_failures=self.targets.failed,
            deliveries=self.deliveries.run(clock),
        )
        report.seconds = time.monotonic() - started
        if self.metrics is not None:
            self.metrics.observe_pass(report.targets, report.deliveries, report.target_failures)
        if report.targets or report.deliveries:
            log.info(
                "worker pass",
                extra={
                    "targets": report.targets,
                    "target_failures": report.target_failures,
                    "deliveries": report.deliveries,
                    "seconds": round(report.seconds, 3),
                },
            )
        return report

    def evaluate(self, as_of: datetime) -> int:
        """The target half of a pass: how many targets had due work."""
        return self.targets.run(as_of)

    def deliver(self, as_of: datetime) -> dict[str, int]:
        """The outbox half of a pass: delivery outcomes by name."""
        return self.deliveries.run(moving(as_of))

    def run_forever(self, stop: threading.Event) -> None:
        log.info("worker started", extra={"worker": self.name})
        while not stop.is_set():
            try:
                self.run_pass()
            except Exception as exc:  # keep the loop alive; the next pass retries
                log_failure("worker pass failed", exc)
            stop.wait(self.config.poll_interval)
        log.info("worker stopped", extra={"worker": self.name})
