from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from tallybook.chats.models import Chat
from tallybook.kit.pagination import PageParams, PageResult, paginate
from tallybook.notifications.models import DeliveryAttempt, Notification, NotificationSetting


def list_for_target(
    session: Session, organization_id: uuid.UUID, target_id: uuid.UUID, kind: str | None = None
) -> list[NotificationSetting]:
    stmt = (
        select(NotificationSetting)
        .where(
            NotificationSetting.organization_id == organization_id,
            NotificationSetting.target_id == target_id,
        )
        .order_by(NotificationSetting.created_at, NotificationSetting.id)
    )
    if kind is not None:
        stmt = stmt.where(NotificationSetting.kind == kind)
    return list(session.scalars(stmt))


def get(
    session: Session,
    organization_id: uuid.UUID,
    target_id: uuid.UUID,
    kind: str,
    setting_id: uuid.UUID,
) -> NotificationSetting | None:
    stmt = select(NotificationSetting).where(
        NotificationSetting.organization_id == organization_id,
        NotificationSetting.target_id == target_id,
        NotificationSetting.kind == kind,
        NotificationSetting.id == setting_id,
    )
    return session.scalars(stmt).one_or_none()


def chat_exists(session: Session, organization_id: uuid.UUID, chat_id: uuid.UUID) -> bool:
    stmt = select(Chat.id).where(Chat.organization_id == organization_id, Chat.id == chat_id)
    return session.scalars(stmt).first() is not None


def log_page(
    session: Session, organization_id: uuid.UUID, target_id: uuid.UUID, params: PageParams
) -> PageResult:
    stmt = select(Notification).where(
        Notification.organization_id == organization_id, Notification.target_id == target_id
    )
    return paginate(session, stmt, Notification.created_at, Notification.id, params)


def attempts_of(
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
