"""The target half of a pass: claim due target schedules and run ``evaluations.flow``.

Due schedules are claimed in batches; a batch is processed in one transaction, and a
failing batch is retried one target at a time, so one target that cannot be processed
holds back only itself.
"""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from tallybook.evaluations import repository as schedules
from tallybook.evaluations.flow import process_targets
from tallybook.events.store import EventStore
from tallybook.kit.db import Database, utcnow
from tallybook.kit.leases import new_lease_owner
from tallybook.worker.config import WorkerConfig
from tallybook.worker.failures import log_failure


class TargetPass:
    def __init__(
        self, database: Database, store: EventStore, config: WorkerConfig, name: str
    ) -> None:
        self.database = database
        self.store = store
        self.config = config
        self.name = name

    def run(self, as_of: datetime) -> int:
        """Everything due for targets as of ``as_of``: how many targets had due work."""
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
                self._postpone(target_ids[0], owner, as_of)
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

    def _postpone(self, target_id: uuid.UUID, owner: str, as_of: datetime) -> None:
        """Try a failing target again after a check interval, not at once."""
        with self.database.unit_of_work() as session:
            for schedule in schedules.claimed_schedules(session, [target_id], owner):
                schedule.next_due_at = as_of + self.config.timing.check_interval
                schedule.planned_at = utcnow()
                schedule.lease_owner = schedule.lease_until = None
