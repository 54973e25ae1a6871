"""What the worker takes from the settings, read once when it starts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from tallybook.evaluations.planning import Timing
from tallybook.kit.tabular import MAX_SHEET_ROWS
from tallybook.settings import Settings

SCHEDULE_BATCH = 50  # target schedules claimed, and processed in one transaction, at once
DELIVERY_BATCH = 50  # notifications claimed at once


@dataclass(frozen=True)
class WorkerConfig:
    timing: Timing  # evaluation delay, check interval, catch-up
    bundle_window: timedelta  # bundleable e-mail waits for the end of its window
    lease_seconds: float
    evaluation_concurrency: int  # event-store reads of a batch in parallel
    delivery_concurrency: int  # deliveries in parallel
    poll_interval: float  # seconds between two passes of a running worker
    schedule_batch: int = SCHEDULE_BATCH
    delivery_batch: int = DELIVERY_BATCH
    export_sheet_rows: int = MAX_SHEET_ROWS  # rows of an XLSX sheet (tests make it small)

    @classmethod
    def from_settings(cls, settings: Settings) -> WorkerConfig:
        return cls(
            timing=Timing(
                delay=timedelta(seconds=settings.evaluation_delay),
                check_interval=timedelta(seconds=settings.check_interval),
                catch_up_periods=settings.catch_up_periods,
            ),
            bundle_window=timedelta(seconds=settings.email_bundle_window),
            lease_seconds=settings.lease_seconds,
            evaluation_concurrency=settings.evaluation_concurrency,
            delivery_concurrency=settings.delivery_concurrency,
            poll_interval=settings.worker_poll_interval,
        )
