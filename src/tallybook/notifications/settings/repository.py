from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from tallybook.notifications.models import NotificationSetting


def list_for_target(
    session: Session,
    organization_id: uuid.UUID,
    target_id: uuid.UUID,
    channel_type: str | None = None,
) -> list[NotificationSetting]:
    stmt = (
        select(NotificationSetting)
        .where(
            NotificationSetting.organization_id == organization_id,
            NotificationSetting.target_id == target_id,
        )
        .order_by(NotificationSetting.created_at, NotificationSetting.id)
    )
    if channel_type is not None:
        stmt = stmt.where(NotificationSetting.channel_type == channel_type)
    return list(session.scalars(stmt))


def get(
    session: Session,
    organization_id: uuid.UUID,
    target_id: uuid.UUID,
    channel_type: str,
    setting_id: uuid.UUID,
) -> NotificationSetting | None:
    stmt = select(NotificationSetting).where(
        NotificationSetting.organization_id == organization_id,
        NotificationSetting.target_id == target_id,
        NotificationSetting.channel_type == channel_type,
        NotificationSetting.id == setting_id,
    )
    return session.scalars(stmt).one_or_none()
