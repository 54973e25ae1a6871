"""The outbox half of a pass: claim due notifications and deliver them on a thread pool."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from enum import StrEnum

from tallybook.kit.db import Database
from tallybook.kit.leases import new_lease_owner
from tallybook.notifications.outbox import queue as outbox
from tallybook.notifications.outbox.delivery import Clock, Deliverer
from tallybook.settings import Settings
from tallybook.worker.config import WorkerConfig
from tallybook.worker.failures import log_failure


class BatchOutcome(StrEnum):
    """Counted with the delivery outcomes when a claimed batch fails as a whole."""

    ERROR = "error"  # the leases expire and a later pass retries


def moving(as_of: datetime) -> Clock:
    """``as_of`` moving on with real time, so that a wait measured from a failure (a 429's
    Retry-After, a backoff) starts when the failure happened, however long the pass runs."""
    started = time.monotonic()
    return lambda: as_of + timedelta(seconds=time.monotonic() - started)


class DeliveryPass:
    def __init__(
        self, database: Database, settings: Settings, config: WorkerConfig, name: str
    ) -> None:
        self.database = database
        self.config = config
        self.name = name
        self.deliverer = Deliverer(database, settings)

    def run(self, clock: Clock) -> dict[str, int]:
        """Delivery outcomes by name. Claims are due as of the instant delivery began,
        outcomes are written as of ``clock()``: a card retried during this pass waits for a
        later one, even with a zero wait (``Retry-After: 0``), instead of being sent again
        in a loop."""
        began = clock()
        outcomes: dict[str, int] = {}
        with ThreadPoolExecutor(
            self.config.delivery_concurrency, thread_name_prefix="delivery"
        ) as pool:
            while True:
                with self.database.unit_of_work() as session:
                    claims = outbox.claim_due(
                        session,
                        as_of=began,
                        limit=self.config.delivery_batch,
                        owner=new_lease_owner(self.name),
                        lease_seconds=self.config.lease_seconds,
                        worker=self.name,
                    )
                if not claims:
                    return outcomes
                try:
                    batch = self.deliverer.deliver(claims, clock, pool)
                except Exception as exc:  # the leases expire and a later pass retries
                    log_failure("delivery failed", exc)
                    batch = {BatchOutcome.ERROR: len(claims)}
                for outcome, count in batch.items():
                    outcomes[outcome] = outcomes.get(outcome, 0) + count
