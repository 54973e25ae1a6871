"""The notification log of a target: its outbox rows, newest first, with every attempt."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tallybook.auth.principal import Principal
from tallybook.kit.pagination import PageParams, PageResult, paginate
from tallybook.notifications.cards.data import Card
from tallybook.notifications.models import DeliveryAttempt, Notification
from tallybook.notifications.states import NotificationState
from tallybook.targets.service import get_target


def delivery_log(
    session: Session,
    principal: Principal,
    workflow_id: uuid.UUID,
    target_id: uuid.UUID,
    params: PageParams,
) -> PageResult:
    """The target's notifications, newest first, each with its delivery attempts."""
    target = get_target(session, principal, workflow_id, target_id)
    rows, next_link, previous_link = _log_page(
        session, principal.organization_id, target.id, params
    )
    attempts = _attempts_of(session, principal.organization_id, [r.id for r in rows])
    entries: list[dict[str, Any]] = [
        {
            "id": row.id,
            "target": row.target_id,
            "setting": row.setting_id,
            "channel": row.channel_type,
            "kind": row.kind,
            "period_start": row.period_start,
            "period_end": row.period_end,
            "state": row.state,
            "attempts": row.attempts,
            "next_attempt_at": (
                row.next_attempt_at if row.state == NotificationState.PENDING else None
            ),
            "last_error": row.last_error,
            "created_at": row.created_at,
            "sent_at": row.sent_at,
            "card": Card.from_json(row.card).to_json(),  # as stored, in today's format
            "attempt_log": attempts[row.id],
        }
        for row in rows
    ]
    return entries, next_link, previous_link


def _log_page(
    session: Session, organization_id: uuid.UUID, target_id: uuid.UUID, params: PageParams
) -> PageResult:
    stmt = select(Notification).where(
        Notification.organization_id == organization_id, Notification.target_id == target_id
    )
    return paginate(session, stmt, Notification.created_at, Notification.id, params)


def _attempts_of(
    session: Session, organization_id: uuid.UUID, notification_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[DeliveryAttempt]]:
    stmt = (
        select(DeliveryAttempt)
        .where(
            DeliveryAttempt.organization_id == organization_id,
            DeliveryAttempt.notification_id.in_(notification_ids),
        )
        .order_by(DeliveryAttempt.number)
    )
    found: dict[uuid.UUID, list[DeliveryAttempt]] = {i: [] for i in notification_ids}
    for attempt in session.scalars(stmt):
        found[attempt.notification_id].append(attempt)
    return found
