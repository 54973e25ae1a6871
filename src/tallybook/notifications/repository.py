from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from tallybook.chats.models import Chat
from tallybook.notifications.models import NotificationSetting


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
