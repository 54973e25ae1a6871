"""The background worker (DESIGN §6): passes over due targets and the notification outbox.

A pass, as of an instant, does everything due then: it claims due target schedules in
batches and processes each batch in one transaction (evaluate closed periods, queue
snapshots, check the current period; a failing batch is retried one target at a time),
then claims due notifications in batches and delivers them on a small thread pool. Any
number of workers may run passes at once against one database.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import traceback
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from tallybook.evaluations import repository as schedules
from tallybook.evaluations.service import WorkerConfig, process_targets
from tallybook.events.store import EventStore
from tallybook.kit.db import Database, utcnow
from tallybook.kit.leases import new_lease_owner
from tallybook.metrics import Metrics
from tallybook.notifications.outbox import queue as outbox
from tallybook.notifications.outbox.delivery import Clock, Deliverer
from tallybook.settings import Settings

log = logging.getLogger("tallybook.worker")

SCHEDULE_BATCH = 50
DELIVERY_BATCH = 50


@dataclass
class PassReport:
    targets: int = 0
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
        self.bundle_window = timedelta(seconds=settings.email_bundle_window)
        self.deliverer = Deliverer(database, settings)

    def run_pass(self, as_of: datetime | None = None) -> PassReport:
        """Everything due as of ``as_of`` (default: now); returns what was done."""
        started = time.monotonic()
        as_of = as_of or utcnow()
        clock = _moving(as_of)
        report = PassReport(targets=self.evaluate(as_of), deliveries=self._deliver(clock))
        report.seconds = time.monotonic() - started
        if self.metrics is not None:
            self.metrics.observe_pass(report.targets, report.deliveries)
        if report.targets or report.deliveries:
            log.info(
                "worker pass",
                extra={
                    "targets": report.targets,
                    "deliveries": report.deliveries,
                    "seconds": round(report.seconds, 3),
                },
            )
        return report

    def evaluate(self, as_of: datetime) -> int:
        """The target half of a pass: how many targets had due work."""
        with self.database.unit_of_work() as session:
            schedules.add_missing_schedules(session)
        done = 0
        while True:
            owner = new_lease_owner(self.name)
            with self.database.unit_of_work() as session:
                ids = schedules.claim_due_schedules(
                    session,
                    as_of=as_of,
                    limit=SCHEDULE_BATCH,
                    owner=owner,
                    lease_seconds=self.settings.lease_seconds,
                )
            if not ids:
                return done
            self._process(ids, owner, as_of)
            done += len(ids)

    def deliver(self, as_of: datetime) -> dict[str, int]:
        """The outbox half of a pass: delivery outcomes by name."""
        return self._deliver(_moving(as_of))

    def _deliver(self, clock: Clock) -> dict[str, int]:
        """Claims are due as of the instant delivery began, outcomes are written as of
        ``clock()``: a card retried during this pass waits for a later one, even with a
        zero wait (``Retry-After: 0``), instead of being sent again in a loop."""
        began = clock()
        outcomes: dict[str, int] = {}
        with ThreadPoolExecutor(
            self.settings.delivery_concurrency, thread_name_prefix="delivery"
        ) as pool:
            while True:
                with self.database.unit_of_work() as session:
                    claims = outbox.claim_due(
                        session,
                        as_of=began,
                        limit=DELIVERY_BATCH,
                        owner=new_lease_owner(self.name),
                        lease_seconds=self.settings.lease_seconds,
                        worker=self.name,
                    )
                if not claims:
                    return outcomes
                try:
                    batch = self.deliverer.deliver(claims, clock, pool)
                except Exception as exc:  # the leases expire and a later pass retries
                    _log_failure("delivery failed", exc)
                    batch = {"error": len(claims)}
                for outcome, count in batch.items():
                    outcomes[outcome] = outcomes.get(outcome, 0) + count

    def run_forever(self, stop: threading.Event) -> None:
        log.info("worker started", extra={"worker": self.name})
        while not stop.is_set():
            try:
                self.run_pass()
            except Exception as exc:  # keep the loop alive; the next pass retries
                _log_failure("worker pass failed", exc)
            stop.wait(self.settings.worker_poll_interval)
        log.info("worker stopped", extra={"worker": self.name})

    def _process(self, target_ids: list[uuid.UUID], owner: str, as_of: datetime) -> None:
        """A claimed batch in one transaction; if that fails, each target on its own, so
        one target that cannot be processed holds back only itself."""
        try:
            self._process_batch(target_ids, owner, as_of)
        except Exception as exc:
            if len(target_ids) == 1:
                _log_failure("target processing failed", exc, target=str(target_ids[0]))
                self._postpone(target_ids[0], owner, as_of)
                return
            for target_id in target_ids:
                self._process([target_id], owner, as_of)

    def _process_batch(self, target_ids: list[uuid.UUID], owner: str, as_of: datetime) -> None:
        with (
            ThreadPoolExecutor(
                self.settings.evaluation_concurrency, thread_name_prefix="evaluation"
            ) as pool,
            self.database.unit_of_work() as session,
        ):
            claimed = schedules.claimed_schedules(session, target_ids, owner)
            process_targets(
                session,
                self.store,
                claimed,
                owner,
                as_of,
                self.config,
                self.bundle_window,
                pool.map,
            )

    def _postpone(self, target_id: uuid.UUID, owner: str, as_of: datetime) -> None:
        """Try a failing target again after a check interval, not at once."""
        with self.database.unit_of_work() as session:
            for schedule in schedules.claimed_schedules(session, [target_id], owner):
                schedule.next_due_at = as_of + self.config.check_interval
                schedule.planned_at = utcnow()
                schedule.lease_owner = schedule.lease_until = None


def _moving(as_of: datetime) -> Clock:
    """``as_of`` moving on with real time, so that a wait measured from a failure (a 429's
    Retry-After, a backoff) starts when the failure happened, however long the pass runs."""
    started = time.monotonic()
    return lambda: as_of + timedelta(seconds=time.monotonic() - started)


def _log_failure(message: str, exc: BaseException, **context: str) -> None:
    """The exception's type and where it was raised; never its text (it may hold data)."""
    frame = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    where = f"{os.path.basename(frame.filename)}:{frame.lineno}" if frame else "?"
    log.error(message, extra={"error_type": type(exc).__name__, "at": where, **context})
