"""The outbox's state machine: every transition between a notification's states and the
attempt outcome it records (both enums in ``notifications/states.py``), each written while
the claim still holds its lease.

    pending ──sent──────────────▶ sent
       │ ├──rejected───────────▶ failed     (a configuration error; counts on the setting)
       │ ├──gave_up────────────▶ failed     (retried for longer than the policy allows)
       │ ├──cancelled──────────▶ cancelled  (switched off before delivery)
       │ └──retry──▶ pending, at the next attempt time
       └── an attempt left open by a worker that died is closed ``interrupted`` at the
           next claim (``queue.claim_due``)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session

from tallybook.kit.db import utcnow
from tallybook.notifications.models import DeliveryAttempt, Notification, NotificationSetting
from tallybook.notifications.states import AttemptOutcome, NotificationState

MAX_CONSECUTIVE_ERRORS = 3


def mark_sent(
    session: Session, rows: Sequence[Notification], settings: Sequence[NotificationSetting]
) -> None:
    now = utcnow()
    _finish(
        session,
        rows,
        state=NotificationState.SENT,
        outcome=AttemptOutcome.SENT,
        error=None,
        now=now,
    )
    for row in rows:
        row.sent_at = now
    for setting in settings:
        setting.last_notification_sent = now
        setting.last_error = None
        setting.consecutive_errors = 0


def mark_cancelled(session: Session, rows: Sequence[Notification], reason: str) -> None:
    _finish(
        session,
        rows,
        state=NotificationState.CANCELLED,
        outcome=AttemptOutcome.CANCELLED,
        error=reason,
        now=utcnow(),
    )


def mark_rejected(
    session: Session,
    rows: Sequence[Notification],
    settings: Sequence[NotificationSetting],
    error: str,
) -> None:
    """A configuration error: not retried; the setting records it and may be switched off."""
    _finish(
        session,
        rows,
        state=NotificationState.FAILED,
        outcome=AttemptOutcome.REJECTED,
        error=error,
        now=utcnow(),
    )
    for setting in settings:
        setting.last_error = error
        setting.consecutive_errors += 1
        if setting.consecutive_errors >= MAX_CONSECUTIVE_ERRORS:
            setting.is_notification_active = False


@dataclass(frozen=True)
class RetryPolicy:
    initial: timedelta
    maximum: timedelta
    give_up_after: timedelta

    def delay(self, attempts: int) -> timedelta:
        """30 s doubling to 1 h by default: attempt 1 waits ``initial``, then twice that…"""
        seconds = self.initial.total_seconds() * 2 ** min(max(attempts - 1, 0), 32)
        return min(timedelta(seconds=seconds), self.maximum)


def mark_retry(
    session: Session,
    rows: Sequence[Notification],
    settings: Sequence[NotificationSetting],
    error: str,
    *,
    as_of: datetime,
    policy: RetryPolicy,
    retry_after: float | None,
) -> None:
    """A transient error: try again later, or give up once the row is too old."""
    now = utcnow()
    expired = [row for row in rows if as_of - row.created_at >= policy.give_up_after]
    for row in expired:
        message = f"Gave up after {row.attempts} attempts: {error}"
        _finish(
            session,
            [row],
            state=NotificationState.FAILED,
            outcome=AttemptOutcome.GAVE_UP,
            error=message,
            now=now,
        )
        for setting in settings:
            if setting.id == row.setting_id:
                setting.last_error = message
    again = [row for row in rows if row not in expired]
    if not again:
        return
    _finish(
        session,
        again,
        state=NotificationState.PENDING,
        outcome=AttemptOutcome.RETRY,
        error=error,
        now=now,
    )
    # A 429 says when to come back, at the latest when the retries give up (a Retry-After
    # of years would overflow the clock and park the card past that); anything else backs
    # off exponentially. The rows of a digest keep one time, so that they stay one e-mail.
    wait = (
        timedelta(seconds=min(retry_after, policy.give_up_after.total_seconds()))
        if retry_after is not None
        else policy.delay(max(row.attempts for row in again))
    )
    for row in again:
        row.next_attempt_at = as_of + wait


def _finish(
    session: Session,
    rows: Sequence[Notification],
    *,
    state: NotificationState,
    outcome: AttemptOutcome,
    error: str | None,
    now: datetime,
) -> None:
    """Close the rows' open attempts (one per row: the claim closed any older one)."""
    for row in rows:
        row.state = state
        row.last_error = error
        row.lease_owner = None
        row.lease_until = None
    session.execute(
        update(DeliveryAttempt)
        .where(
            DeliveryAttempt.notification_id.in_([row.id for row in rows]),
            DeliveryAttempt.finished_at.is_(None),
        )
        .values(finished_at=now, outcome=outcome, error=error)
        .execution_options(synchronize_session=False)
    )
