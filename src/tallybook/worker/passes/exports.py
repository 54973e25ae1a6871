"""The export half of a pass: make due report exports one at a time, then delete the
files of expired ones (``exports.flow``).

One export is claimed at a time, since one may take minutes; the pass stops claiming new
ones after ``budget`` seconds, so that a queue of exports delays the next target
evaluations and deliveries by about that much at most (the rest wait for the next pass).
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from tallybook.exports.flow import Clock, ExportConfig, ExportFlow, Outcome
from tallybook.files.store import FileStore
from tallybook.kit.db import Database
from tallybook.settings import Settings
from tallybook.worker.config import WorkerConfig
from tallybook.worker.failures import log, log_failure

PASS_BUDGET = 60.0  # seconds of exports a pass starts at most
EXPIRED = "expired"  # counted beside the outcomes: files of expired exports deleted


class ExportPass:
    def __init__(
        self,
        database: Database,
        files: FileStore,
        settings: Settings,
        config: WorkerConfig,
        name: str,
        *,
        budget: float = PASS_BUDGET,
    ) -> None:
        self.flow = ExportFlow(
            database,
            files,
            ExportConfig(
                lease_seconds=config.lease_seconds,
                ttl=timedelta(seconds=settings.export_ttl),
                max_attempts=settings.export_max_attempts,
                sheet_rows=config.export_sheet_rows,
            ),
            name,
        )
        self.budget = budget

    def run(self, as_of: datetime, clock: Clock) -> dict[str, int]:
        """Outcomes by name: exports due as of ``as_of`` made (or retried, failed), and the
        files of expired exports deleted."""
        counts: dict[str, int] = {}
        started = time.monotonic()
        while time.monotonic() - started < self.budget:
            result = self.flow.run_next(as_of, clock)
            if result is None:
                break
            if result.error is not None:
                log_failure("report export failed", result.error, export=str(result.export_id))
            elif result.outcome is Outcome.COMPLETED:
                log.info(
                    "report export completed",
                    extra={
                        "export": str(result.export_id),
                        "rows": result.rows,
                        "bytes": result.size,
                        "seconds": round(result.seconds, 3),
                    },
                )
            counts[result.outcome] = counts.get(result.outcome, 0) + 1
        expired = self.flow.expire()
        if expired:
            counts[EXPIRED] = expired
        return counts
