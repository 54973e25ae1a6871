from __future__ import annotations

import uuid

from sqlalchemy import Uuid, column, select, table, update
from sqlalchemy.orm import Session

from tallybook.kit.db import UTCDateTime, utcnow
from tallybook.notifications.models import NotificationSetting

# The worker's schedule of a target (``evaluations.models.TargetSchedule``), as far as a
# settings change touches it: named here so that notifications need not import evaluations.
_schedules = table(
    "target_schedules",
    column("organization_id", Uuid()),
    column("target_id", Uuid()),
    column("changed_at", UTCDateTime()),
)


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
        stmt = stmt.where(NotificationSetting.kind == channel_type)
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
        NotificationSetting.kind == channel_type,
        NotificationSetting.id == setting_id,
    )
    return session.scalars(stmt).one_or_none()


def make_due(session: Session, organization_id: uuid.UUID, target_id: uuid.UUID) -> None:
    """Have the worker look at a target on its next pass (its settings changed)."""
    session.execute(
        update(_schedules)
        .where(
            _schedules.c.organization_id == organization_id,
            _schedules.c.target_id == target_id,
        )
        .values(changed_at=utcnow())
    )
