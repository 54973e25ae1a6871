"""One export's making, in one direction: claim → plan (pure) → write the file → record.

- **Claim**: the pending export due longest is leased to this worker and its attempt
  counted, in one statement (``kit.leases``); the row is read once, into a ``Job``.
- **Plan**: ``plan(job, max_attempts)`` — write it, or give it up because earlier attempts
  (crashes included: a worker killed mid-export leaves its lease to expire, and the next
  claim counts a new attempt) used up the tries.
- **Write**: the rows are read with a server-side cursor in batches and written into the
  file store under a key of this attempt; the lease is renewed while rows stream, and the
  write stops if another worker has taken the export over.
- **Record**: in a transaction that first holds the lease, the export is completed (file,
  size, ``expires_at``), retried later (backoff), or failed for good with a sentence.
  A worker that lost its lease records nothing and deletes its own file.

Files of an attempt are named ``exports/<organisation>/<export>/<attempt>.<format>``, so two
attempts never write the same file; an attempt cut short leaves at most a partial file,
which the attempt that ends the export deletes.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import IO, Any

from sqlalchemy.orm import Session

from tallybook.exports import repository
from tallybook.exports.logs import HEADER as LOG_HEADER
from tallybook.exports.logs import LogSpec, log_rows
from tallybook.exports.models import ReportExport
from tallybook.exports.stats import HEADER as STATS_HEADER
from tallybook.exports.stats import StatsSpec, stats_rows
from tallybook.exports.transcript import write_transcript
from tallybook.exports.types import ExportFormat, ExportType
from tallybook.files.store import FileStore, FileStoreUnavailable
from tallybook.kit.db import Database, utcnow
from tallybook.kit.leases import new_lease_owner
from tallybook.kit.tabular import MAX_SHEET_ROWS, write_csv, write_xlsx
from tallybook.kit.tabular.cells import close_rows

Clock = Callable[[], datetime]
log = logging.getLogger("tallybook.exports")

BATCH_ROWS = 2000  # rows fetched from the relational store at a time
FIRST_RETRY = timedelta(seconds=30)
MAX_RETRY = timedelta(hours=1)
FAILED_SENTENCE = (
    "The export could not be made: it failed {attempts} times. Start a new export to try again."
)


class Outcome(StrEnum):
    COMPLETED = "completed"
    RETRY = "retry"  # failed; tried again after a backoff
    FAILED = "failed"  # failed for good
    LOST = "lost"  # another worker took it over; this one recorded nothing


class Decision(StrEnum):
    WRITE = "write"
    GIVE_UP = "give_up"


@dataclass(frozen=True)
class ExportConfig:
    lease_seconds: float
    ttl: timedelta
    max_attempts: int
    sheet_rows: int = MAX_SHEET_ROWS
    batch_rows: int = BATCH_ROWS


@dataclass(frozen=True)
class Job:
    """What making one export needs, read once from the claimed row."""

    id: uuid.UUID
    organization_id: uuid.UUID
    room_id: uuid.UUID
    type: ExportType
    format: ExportFormat
    starting_at: datetime
    ending_at: datetime
    is_real_conversation: bool | None
    min_message_count: int
    attempt: int
    timezone: str

    def key(self, attempt: int | None = None) -> str:
        number = self.attempt if attempt is None else attempt
        return f"exports/{self.organization_id.hex}/{self.id.hex}/{number}.{self.format}"


@dataclass(frozen=True)
class Result:
    export_id: uuid.UUID
    outcome: Outcome
    error: BaseException | None = None  # what made an attempt fail, for the worker's log
    rows: int = 0  # rows read from the relational store
    size: int = 0  # bytes of the file
    seconds: float = 0.0  # writing the file


def plan(job: Job, max_attempts: int) -> Decision:
    return Decision.GIVE_UP if job.attempt > max_attempts else Decision.WRITE


def backoff(attempt: int) -> timedelta:
    """The wait after the ``attempt``-th failure: 30 s, doubling up to an hour."""
    doublings = min(max(attempt - 1, 0), 7)
    return min(FIRST_RETRY * (1 << doublings), MAX_RETRY)


class LeaseLost(Exception):
    """Another worker has taken the export over (this one's lease expired)."""


class ExportFlow:
    def __init__(
        self, database: Database, files: FileStore, config: ExportConfig, worker: str
    ) -> None:
        self.database = database
        self.files = files
        self.config = config
        self.worker = worker

    def run_next(self, as_of: datetime, clock: Clock) -> Result | None:
        """Make the export due longest as of ``as_of``; None when none is due."""
        owner = new_lease_owner(self.worker)
        job = self._claim(as_of, owner)
        if job is None:
            return None
        if plan(job, self.config.max_attempts) is Decision.GIVE_UP:
            outcome = self._record_failure(job, owner, None, clock)
            return Result(job.id, outcome)
        started = time.monotonic()
        try:
            rows, size = self._write(job, owner)
        except LeaseLost:
            self._discard(job.key())
            return Result(job.id, Outcome.LOST)
        except Exception as exc:
            self._discard(job.key())
            return Result(job.id, self._record_failure(job, owner, exc, clock), exc)
        if not self._record_success(job, owner, rows, size, clock):
            self._discard(job.key())
            return Result(job.id, Outcome.LOST)
        self._delete_attempts(job, range(1, job.attempt))
        return Result(job.id, Outcome.COMPLETED, None, rows, size, time.monotonic() - started)

    def expire(self, limit: int = 100) -> int:
        """Delete the files of exports past ``expires_at``; how many. Judged on the real
        clock, as the API's 410 is: a pass as of a later instant (a backfill) must not
        delete files whose links still work."""
        with self.database.unit_of_work() as session:
            found = repository.expired_files(session, utcnow(), limit)
            expired = [(export.id, export.file_key) for export in found]
        deleted = 0
        for export_id, key in expired:
            assert key is not None
            try:
                self.files.delete(key)  # first: a crash before the record deletes it again
            except FileStoreUnavailable:
                log.warning("the file store cannot be reached; expired files wait a pass")
                break
            with self.database.unit_of_work() as session:
                repository.forget_file(session, export_id, key)
            deleted += 1
        return deleted

    def _claim(self, as_of: datetime, owner: str) -> Job | None:
        now = utcnow()
        lease_until = now + timedelta(seconds=self.config.lease_seconds)
        with self.database.unit_of_work() as session:
            export_id = repository.claim_due(
                session, as_of=as_of, now=now, owner=owner, lease_until=lease_until
            )
            if export_id is None:
                return None
            export = repository.claimed(session, export_id, owner)
            assert export is not None  # claimed in this very transaction
            return _job(session, export)

    def _write(self, job: Job, owner: str) -> tuple[int, int]:
        """Write the file of this attempt; (rows read, bytes written)."""
        renewer = _Renewer(self.database, job.id, owner, self.config.lease_seconds)
        with self.database.unit_of_work() as session:
            rows = renewer.guard(self._rows(session, job))
            with self.files.create(job.key()) as file:
                self._write_rows(job, rows, file)
        return renewer.count, self.files.size(job.key())

    def _rows(self, session: Session, job: Job) -> Iterator[tuple[Any, ...]]:
        if job.type is ExportType.LOGS:
            spec = LogSpec(
                job.organization_id,
                job.room_id,
                job.starting_at,
                job.ending_at,
                job.is_real_conversation,
                job.min_message_count,
            )
            as_text = job.format is not ExportFormat.XLSX  # XLSX has date cells
            return log_rows(session, spec, self.config.batch_rows, times_as_text=as_text)
        stats = StatsSpec(
            job.organization_id, job.room_id, job.starting_at, job.ending_at, job.timezone
        )
        return stats_rows(session, stats)

    def _write_rows(self, job: Job, rows: Iterator[Any], file: IO[bytes]) -> None:
        header = LOG_HEADER if job.type is ExportType.LOGS else STATS_HEADER
        match job.format:
            case ExportFormat.CSV:
                write_csv(header, rows, file)
            case ExportFormat.XLSX:
                write_xlsx(header, rows, file, sheet_rows=self.config.sheet_rows)
            case ExportFormat.TXT:
                write_transcript(rows, file)

    def _record_success(self, job: Job, owner: str, rows: int, size: int, clock: Clock) -> bool:
        with self.database.unit_of_work() as session:
            export = repository.claimed(session, job.id, owner)
            if export is None:
                return False
            now = clock()
            export.completed_at = now
            export.expires_at = now + self.config.ttl
            export.is_failed = False
            export.error = None
            export.file_key = job.key()
            export.file_size = size
            export.row_count = rows
            _release(export)
            return True

    def _record_failure(
        self, job: Job, owner: str, error: BaseException | None, clock: Clock
    ) -> Outcome:
        with self.database.unit_of_work() as session:
            export = repository.claimed(session, job.id, owner)
            if export is None:
                return Outcome.LOST
            now = clock()
            if error is not None:
                export.error_type = type(error).__name__[:64]
            _release(export)
            if job.attempt < self.config.max_attempts:
                export.next_attempt_at = now + backoff(job.attempt)
                outcome = Outcome.RETRY
            else:
                tried = min(job.attempt, self.config.max_attempts)
                export.completed_at = now
                export.is_failed = True
                export.error = FAILED_SENTENCE.format(attempts=tried)
                outcome = Outcome.FAILED
        if outcome is Outcome.FAILED:
            self._delete_attempts(job, range(1, job.attempt + 1))
        return outcome

    def _delete_attempts(self, job: Job, attempts: Iterable[int]) -> None:
        """Whatever earlier attempts left (a partial file of a crash, at most)."""
        for attempt in attempts:
            self._discard(job.key(attempt))

    def _discard(self, key: str) -> None:
        """Delete a file nobody will read; a store that cannot is logged, not fatal: the
        outcome is recorded all the same, and the file at worst stays behind."""
        try:
            self.files.delete(key)
        except Exception as exc:
            log.warning("could not delete a file", extra={"error_type": type(exc).__name__})


def _job(session: Session, export: ReportExport) -> Job:
    return Job(
        id=export.id,
        organization_id=export.organization_id,
        room_id=export.room_id,
        type=ExportType(export.type),
        format=ExportFormat(export.format),
        starting_at=export.starting_at,
        ending_at=export.ending_at,
        is_real_conversation=export.is_real_conversation,
        min_message_count=export.min_message_count or 0,
        attempt=export.attempts,
        timezone=repository.organization_timezone(session, export.organization_id),
    )


def _release(export: ReportExport) -> None:
    export.lease_owner = None
    export.lease_until = None


_CLOCK_EVERY = 0xFF  # rows between two looks at the clock, less one (a power of two)


class _Renewer:
    """Counts the rows as they stream and renews the lease every quarter of its length, and
    once more after the last row (so that finishing the file, an XLSX's zip, and storing
    it, an upload, have a whole lease), each in a transaction of its own; raises
    ``LeaseLost`` once another worker has the export."""

    def __init__(self, database: Database, export_id: uuid.UUID, owner: str, lease: float) -> None:
        self.database = database
        self.export_id = export_id
        self.owner = owner
        self.lease = lease
        self.count = 0

    def guard(self, rows: Iterator[Any]) -> Iterator[Any]:
        every = self.lease / 4
        last = time.monotonic()
        try:
            for row in rows:
                self.count += 1
                if not self.count & _CLOCK_EVERY:
                    now = time.monotonic()
                    if now - last >= every:
                        self._renew()
                        last = now
                yield row
            self._renew()
        finally:
            close_rows(rows)

    def _renew(self) -> None:
        until = utcnow() + timedelta(seconds=self.lease)
        with self.database.unit_of_work() as session:
            if not repository.renew(session, self.export_id, self.owner, until):
                raise LeaseLost
