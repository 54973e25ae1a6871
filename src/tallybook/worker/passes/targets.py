"""The target half of a pass: claim due target schedules and run ``evaluations.flow``.

Due schedules are claimed in batches; a batch is processed in one transaction, and a
failing batch is retried one target at a time, so one target that cannot be processed
holds back only itself. A target that fails on its own records the failure on its
schedule (a sentence and the exception's type, never its text; the API shows them) and
backs off: 1 minute after the first failure, doubling up to 1 hour. Its next success
clears the failure.
"""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from tallybook.evaluations import repository as schedules
from tallybook.evaluations.flow import process_targets
from tallybook.events.store import EventStore
from tallybook.kit.db import Database, utcnow
from tallybook.kit.leases import new_lease_owner
from tallybook.worker.config import WorkerConfig
from tallybook.worker.failures import log_failure

FIRST_BACKOFF = timedelta(minutes=1)
MAX_BACKOFF = timedelta(hours=1)
FAILURE_SENTENCE = "The worker could not process this target; it will try again later."


def backoff(failures: int) -> timedelta:
    """How long a target that has failed ``failures`` times in a row waits to be retried."""
    doublings = min(max(failures - 1, 0), 6)  # 2**6 minutes is past the cap already
    return min(FIRST_BACKOFF * (1 << doublings), MAX_BACKOFF)


class TargetPass:
    def __init__(
        self, database: Database, store: EventStore, config: WorkerConfig, name: str
    ) -> None:
        self.database = database
        self.store = store
        self.config = config
        self.name = name
        self.failed = 0  # targets that failed in the latest run

    def run(self, as_of: datetime) -> int:
        """Everything due for targets as of ``as_of``: how many targets had due work
        (``failed`` then says how many of them failed)."""
        self.failed = 0
        with self.database.unit_of_work() as session:
            schedules.add_missing_schedules(session)
        done = 0
        while True:
            owner = new_lease_owner(self.name)
            with self.database.unit_of_work() as session:
                ids = schedules.claim_due_schedules(
                    session,
                    as_of=as_of,
                    limit=self.config.schedule_batch,
                    owner=owner,
                    lease_seconds=self.config.lease_seconds,
                )
            if not ids:
                return done
            self._process(ids, owner, as_of)
            done += len(ids)

    def _process(self, target_ids: list[uuid.UUID], owner: str, as_of: datetime) -> None:
        """A claimed batch in one transaction; if that fails, each target on its own."""
        try:
            self._process_batch(target_ids, owner, as_of)
        except Exception as exc:
            if len(target_ids) == 1:
                log_failure("target processing failed", exc, target=str(target_ids[0]))
                self.failed += 1
                self._postpone(target_ids[0], owner, as_of, type(exc).__name__)
                return
            for target_id in target_ids:
                self._process([target_id], owner, as_of)

    def _process_batch(self, target_ids: list[uuid.UUID], owner: str, as_of: datetime) -> None:
        with (
            ThreadPoolExecutor(
                self.config.evaluation_concurrency, thread_name_prefix="evaluation"
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
                self.config.timing,
                self.config.bundle_window,
                pool.map,
            )

    def _postpone(self, target_id: uuid.UUID, owner: str, as_of: datetime, error_type: str) -> None:
        """Record the failure and try the target again after its backoff, not at once."""
        with self.database.unit_of_work() as session:
            for schedule in schedules.claimed_schedules(session, [target_id], owner):
                schedule.failure_count = (schedule.failure_count or 0) + 1
                schedule.last_error = FAILURE_SENTENCE
                schedule.last_error_type = error_type[:64]
                schedule.last_error_at = as_of
                schedule.next_due_at = as_of + backoff(schedule.failure_count)
                schedule.planned_at = utcnow()
                schedule.lease_owner = schedule.lease_until = None
