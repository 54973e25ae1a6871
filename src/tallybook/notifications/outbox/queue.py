"""The notification outbox: queueing and claiming with leases (outcomes: ``states``).

Every function here runs inside the caller's transaction. A row is claimed by one worker at
a time (``kit.leases``); each outcome is written only while the claim still holds its lease,
so a worker that lost its lease (it stalled past expiry and another took over) cannot
overwrite the newer claim's result.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, select, tuple_, update
from sqlalchemy.orm import Session

from tallybook.kit.db import on_postgresql, utcnow
from tallybook.kit.leases import claim, hold, insert_ignoring_duplicates, lease_is_free
from tallybook.notifications.cards.data import Card, NotificationKind
from tallybook.notifications.channels.registry import channel_for
from tallybook.notifications.models import DeliveryAttempt, Notification, NotificationSetting
from tallybook.notifications.states import AttemptOutcome, NotificationState
from tallybook.targets.models import Target
from tallybook.targets.periods import Period

MAX_DIGEST_CARDS = 500
_PENDING = (Notification.state == NotificationState.PENDING,)


def active_settings(
    session: Session, targets: Sequence[tuple[uuid.UUID, uuid.UUID]]
) -> dict[uuid.UUID, list[NotificationSetting]]:
    """The switched-on settings of these (organisation, target) pairs, by target."""
    stmt = (
        select(NotificationSetting)
        .where(
            tuple_(NotificationSetting.organization_id, NotificationSetting.target_id).in_(targets),
            NotificationSetting.is_notification_active.is_(True),
        )
        .order_by(NotificationSetting.created_at, NotificationSetting.id)
    )
    found: dict[uuid.UUID, list[NotificationSetting]] = {}
    for setting in session.scalars(stmt):
        found.setdefault(setting.target_id, []).append(setting)
    return found


@dataclass(frozen=True, slots=True)
class QueuedCard:
    """One outbox row to queue: a card for one setting, as ``rows_for`` makes it.

    ``enqueue`` writes it as a new ``Notification`` (pending, no attempt yet).
    """

    organization_id: uuid.UUID
    target_id: uuid.UUID
    setting_id: uuid.UUID
    channel_type: str  # the setting's ChannelType
    kind: NotificationKind
    period_start: datetime
    period_end: datetime
    card: dict[str, Any]  # ``Card.to_json()``, shared by the rows of one card
    next_attempt_at: datetime
    bundle_key: str | None
    created_at: datetime  # the pass's instant, the clock retries and give-up run on


def rows_for(
    settings: Sequence[NotificationSetting],
    kind: NotificationKind,
    period: Period,
    card: Card,
    now: datetime,
    bundle_window: timedelta,
) -> list[QueuedCard]:
    """The outbox rows of one card: one per setting."""
    payload = card.to_json()
    return [
        QueuedCard(
            organization_id=setting.organization_id,
            target_id=setting.target_id,
            setting_id=setting.id,
            channel_type=setting.channel_type,
            kind=kind,
            period_start=period.start,
            period_end=period.end,
            card=payload,
            next_attempt_at=_first_attempt(setting, now, bundle_window),
            bundle_key=_bundle_key(setting),
            created_at=now,
        )
        for setting in settings
    ]


def enqueue(session: Session, rows: Sequence[QueuedCard]) -> None:
    """Queue rows; one already queued for its (setting, kind, period) stays as it is."""
    insert_ignoring_duplicates(session, Notification, [_insert_values(row) for row in rows])


def _insert_values(row: QueuedCard) -> dict[str, Any]:
    # Keyed by Notification attribute, as the ORM-enabled INSERT takes them.
    return {
        "organization_id": row.organization_id,
        "target_id": row.target_id,
        "setting_id": row.setting_id,
        "channel_type": row.channel_type,
        "kind": str(row.kind),
        "period_start": row.period_start,
        "period_end": row.period_end,
        "card": row.card,
        "state": str(NotificationState.PENDING),
        "attempts": 0,
        "next_attempt_at": row.next_attempt_at,
        "bundle_key": row.bundle_key,
        "created_at": row.created_at,
    }


def _bundle_key(setting: NotificationSetting) -> str | None:
    return channel_for(setting.channel_type).bundle_key(setting)


def _first_attempt(setting: NotificationSetting, now: datetime, window: timedelta) -> datetime:
    """Bundleable e-mail waits for the end of its window, so a window's cards go together."""
    if _bundle_key(setting) is None or window.total_seconds() <= 0:
        return now
    step = window.total_seconds()
    epoch = now.timestamp()
    return datetime.fromtimestamp((epoch // step + 1) * step, tz=UTC)


@dataclass(frozen=True)
class Claim:
    """Notifications one worker delivers as one message (several only for a digest)."""

    owner: str
    notification_ids: tuple[uuid.UUID, ...]


def claim_due(
    session: Session,
    *,
    as_of: datetime,
    limit: int,
    owner: str,
    lease_seconds: float,
    worker: str,
) -> list[Claim]:
    """Lease due notifications, open an attempt for each, group digests together.

    Single cards are claimed row by row. A digest's cards are claimed whole, one
    (organisation, address) at a time, so two workers never split one window's digest: on
    PostgreSQL a transaction-scoped advisory lock on the address decides who takes it (the
    other worker skips it); on SQLite the one write lock does.
    """
    now = utcnow()
    lease_until = now + timedelta(seconds=lease_seconds)
    due = [Notification.state == NotificationState.PENDING, Notification.next_attempt_at <= as_of]

    def take(where: list[ColumnElement[bool]], count: int) -> list[Notification]:
        ids = claim(
            session,
            Notification,
            Notification.id,
            where,
            [Notification.next_attempt_at, Notification.id],
            limit=count,
            owner=owner,
            lease_until=lease_until,
            now=now,
            extra_values={"attempts": Notification.attempts + 1},
        )
        return _owned(session, ids, owner)

    rows = take([*due, Notification.bundle_key.is_(None)], limit)
    for organization_id, address in _due_addresses(session, due, now, limit):
        if _address_is_taken(session, organization_id, address):
            continue
        same_address = [
            Notification.organization_id == organization_id,
            Notification.bundle_key == address,
        ]
        rows += take([*due, *same_address], MAX_DIGEST_CARDS)
    if rows:
        _open_attempts(session, rows, worker, now)
    return _group(owner, rows)


def _due_addresses(
    session: Session, due: list[ColumnElement[bool]], now: datetime, limit: int
) -> list[tuple[uuid.UUID, str]]:
    stmt = (
        select(Notification.organization_id, Notification.bundle_key)
        .where(
            *due, Notification.bundle_key.is_not(None), lease_is_free(Notification.lease_until, now)
        )
        .distinct()
        .limit(limit)
    )
    return [(organization_id, str(address)) for organization_id, address in session.execute(stmt)]


def _address_is_taken(session: Session, organization_id: uuid.UUID, address: str) -> bool:
    """Whether another worker is claiming this address's digest right now (PostgreSQL)."""
    if not on_postgresql(session):
        return False
    key = func.hashtextextended(f"tallybook-digest:{organization_id}:{address}", 0)
    return not session.scalar(select(func.pg_try_advisory_xact_lock(key)))


def _owned(session: Session, ids: Sequence[uuid.UUID], owner: str) -> list[Notification]:
    if not ids:
        return []
    stmt = select(Notification).where(Notification.id.in_(ids), Notification.lease_owner == owner)
    return list(session.scalars(stmt))


def _open_attempts(
    session: Session, rows: Sequence[Notification], worker: str, now: datetime
) -> None:
    ids = [row.id for row in rows]
    session.execute(
        update(DeliveryAttempt)
        .where(DeliveryAttempt.notification_id.in_(ids), DeliveryAttempt.finished_at.is_(None))
        .values(
            finished_at=now,
            outcome=AttemptOutcome.INTERRUPTED,
            error="The worker stopped mid-delivery.",
        )
        .execution_options(synchronize_session=False)
    )
    session.add_all(
        DeliveryAttempt(
            organization_id=row.organization_id,
            notification_id=row.id,
            number=row.attempts,
            worker=worker[:64],
            started_at=now,
        )
        for row in rows
    )
    session.flush()


def _group(owner: str, rows: Sequence[Notification]) -> list[Claim]:
    groups: dict[Any, list[uuid.UUID]] = {}
    for row in sorted(rows, key=lambda r: (r.next_attempt_at, str(r.id))):
        key = (row.organization_id, row.bundle_key) if row.bundle_key else row.id
        groups.setdefault(key, []).append(row.id)
    return [Claim(owner, tuple(ids)) for ids in groups.values()]


def lock_claimed(
    session: Session, ids: Sequence[uuid.UUID], owner: str
) -> dict[uuid.UUID, Notification]:
    """The rows among ``ids`` still pending under this claim, locked for this transaction."""
    locked = hold(session, Notification, Notification.id, ids, owner, where=_PENDING)
    return {row.id: row for row in _owned(session, list(locked), owner)}


def renew(
    session: Session, ids: Sequence[uuid.UUID], owner: str, lease_seconds: float
) -> set[uuid.UUID]:
    """Extend this claim's lease on ``ids``; the ones it still holds (another worker may
    have taken some over after the lease expired — this worker must not send those)."""
    until = utcnow() + timedelta(seconds=lease_seconds)
    return hold(
        session, Notification, Notification.id, ids, owner, where=_PENDING, lease_until=until
    )


def uncertain_since(session: Session, rows: Sequence[Notification]) -> dict[uuid.UUID, datetime]:
    """Per row, when the first earlier attempt that may have reached the channel began: one
    cut short by the worker's death, or one that failed without knowing if it got through."""
    retried = [row for row in rows if row.attempts > 1]
    if not retried:
        return {}
    stmt = (
        select(DeliveryAttempt.notification_id, func.min(DeliveryAttempt.started_at))
        .where(
            tuple_(DeliveryAttempt.organization_id, DeliveryAttempt.notification_id).in_(
                [(row.organization_id, row.id) for row in retried]
            ),
            DeliveryAttempt.finished_at.is_not(None),
            DeliveryAttempt.outcome.in_((AttemptOutcome.INTERRUPTED, AttemptOutcome.RETRY)),
        )
        .group_by(DeliveryAttempt.notification_id)
    )
    found: dict[uuid.UUID, datetime] = {}
    for notification_id, since in session.execute(stmt):
        found[notification_id] = since
    return found


def settings_of(
    session: Session, rows: Sequence[Notification]
) -> dict[uuid.UUID, NotificationSetting]:
    if not rows:
        return {}
    pairs = {(row.organization_id, row.setting_id) for row in rows}
    stmt = select(NotificationSetting).where(
        tuple_(NotificationSetting.organization_id, NotificationSetting.id).in_(pairs)
    )
    return {setting.id: setting for setting in session.scalars(stmt)}


def targets_notifying(session: Session, rows: Sequence[Notification]) -> set[uuid.UUID]:
    """Which of the rows' targets still have notifications switched on."""
    if not rows:
        return set()
    pairs = {(row.organization_id, row.target_id) for row in rows}
    stmt = select(Target.id).where(
        tuple_(Target.organization_id, Target.id).in_(pairs),
        Target.are_notifications_active.is_(True),
    )
    return set(session.scalars(stmt))
