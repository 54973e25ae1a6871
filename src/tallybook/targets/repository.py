from __future__ import annotations

import uuid

from sqlalchemy import select, update
from sqlalchemy.orm import Session, selectinload

from tallybook.kit.db import utcnow
from tallybook.targets.models import Target, TargetSchedule


def list_for_workflow(
    session: Session, organization_id: uuid.UUID, workflow_id: uuid.UUID
) -> list[Target]:
    stmt = (
        select(Target)
        .options(selectinload(Target.schedule))
        .where(Target.organization_id == organization_id, Target.workflow_id == workflow_id)
        .order_by(Target.created_at, Target.id)
    )
    return list(session.scalars(stmt))


def list_for_organization(session: Session, organization_id: uuid.UUID) -> list[Target]:
    """Every target of the organisation, in :func:`list_for_workflow`'s order within each
    workflow."""
    stmt = (
        select(Target)
        .options(selectinload(Target.schedule))
        .where(Target.organization_id == organization_id)
        .order_by(Target.workflow_id, Target.created_at, Target.id)
    )
    return list(session.scalars(stmt))


def get(
    session: Session,
    organization_id: uuid.UUID,
    target_id: uuid.UUID,
    workflow_id: uuid.UUID | None = None,
) -> Target | None:
    stmt = select(Target).where(Target.organization_id == organization_id, Target.id == target_id)
    if workflow_id is not None:
        stmt = stmt.where(Target.workflow_id == workflow_id)
    return session.scalars(stmt).one_or_none()


def make_due(session: Session, organization_id: uuid.UUID, target_id: uuid.UUID) -> None:
    """Have the worker look at a target on its next pass (its settings changed)."""
    session.execute(
        update(TargetSchedule)
        .where(
            TargetSchedule.organization_id == organization_id,
            TargetSchedule.target_id == target_id,
        )
        .values(changed_at=utcnow())
        .execution_options(synchronize_session=False)
    )
