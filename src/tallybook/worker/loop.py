"""The worker's loop: passes over due targets, the notification outbox and report
exports (DESIGN §6, §8).

A pass, as of an instant, does everything due then: the target pass
(``passes.targets``), the delivery pass (``passes.deliveries``), then the export pass
(``passes.exports``). Any number of workers may run passes at once against one database.
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
from tallybook.files.registry import open_file_store
from tallybook.files.store import FileStore
from tallybook.kit.db import Database, utcnow
from tallybook.metrics import Metrics
from tallybook.settings import Settings
from tallybook.worker.config import WorkerConfig
from tallybook.worker.failures import log, log_failure
from tallybook.worker.passes.deliveries import DeliveryPass, moving
from tallybook.worker.passes.exports import ExportPass
from tallybook.worker.passes.targets import TargetPass


@dataclass
class PassReport:
    targets: int = 0
    target_failures: int = 0
    deliveries: dict[str, int] = field(default_factory=dict)
    exports: dict[str, int] = field(default_factory=dict)
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
        files: FileStore | None = None,
        config: WorkerConfig | None = None,
    ) -> None:
        self.database = database
        self.metrics = metrics
        self.store = store
        self.settings = settings
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.config = config or WorkerConfig.from_settings(settings)
        self.files = files or open_file_store(settings)
        self.targets = TargetPass(database, store, self.config, self.name)
        self.deliveries = DeliveryPass(database, settings, self.config, self.name)
        self.exports = ExportPass(database, self.files, settings, self.config, self.name)

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
        report.exports = self.exports.run(as_of, clock)
        report.seconds = time.monotonic() - started
        if self.metrics is not None:
            self.metrics.observe_pass(
                report.targets, report.deliveries, report.target_failures, report.exports
            )
        if report.targets or report.deliveries or report.exports:
            log.info(
                "worker pass",
                extra={
                    "targets": report.targets,
                    "target_failures": report.target_failures,
                    "deliveries": report.deliveries,
                    "exports": report.exports,
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

    def export(self, as_of: datetime) -> dict[str, int]:
        """The export part of a pass: outcomes by name."""
        return self.exports.run(as_of, moving(as_of))

    def run_forever(self, stop: threading.Event) -> None:
        log.info("worker started", extra={"worker": self.name})
        while not stop.is_set():
            try:
                self.run_pass()
            except Exception as exc:  # keep the loop alive; the next pass retries
                log_failure("worker pass failed", exc)
            stop.wait(self.config.poll_interval)
        log.info("worker stopped", extra={"worker": self.name})
