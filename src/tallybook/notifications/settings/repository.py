from __future__ import annotations

import uuid

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tallybook.notifications.models import Notification, NotificationSetting
from tallybook.notifications.states import NotificationState


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


def rekey_pending(session: Session, setting: NotificationSetting, bundle_key: str | None) -> None:
    """The setting's cards still waiting join the bundle of its address as it is now."""
    session.execute(
        update(Notification)
        .where(
            Notification.organization_id == setting.organization_id,
            Notification.setting_id == setting.id,
            Notification.state == NotificationState.PENDING,
        )
        .values(bundle_key=bundle_key)
    )
