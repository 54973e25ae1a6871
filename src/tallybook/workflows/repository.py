from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from tallybook.workflows.models import Workflow


def list_for_org(session: Session, organization_id: uuid.UUID) -> list[Workflow]:
    stmt = (
        select(Workflow)
        .where(Workflow.organization_id == organization_id)
        .order_by(Workflow.created_at, Workflow.id)
    )
    return list(session.scalars(stmt))


def get(session: Session, organization_id: uuid.UUID, workflow_id: uuid.UUID) -> Workflow | None:
    stmt = select(Workflow).where(
        Workflow.organization_id == organization_id, Workflow.id == workflow_id
    )
    return session.scalars(stmt).one_or_none()
