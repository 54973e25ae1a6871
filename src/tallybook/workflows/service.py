from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from tallybook.auth.principal import Principal
from tallybook.kit.errors import NotFound
from tallybook.workflows import repository
from tallybook.workflows.models import Workflow
from tallybook.workflows.schemas import WorkflowCreate, WorkflowUpdate


def list_workflows(session: Session, principal: Principal) -> list[Workflow]:
    return repository.list_for_org(session, principal.organization_id)


def get_workflow(session: Session, principal: Principal, workflow_id: uuid.UUID) -> Workflow:
    workflow = repository.get(session, principal.organization_id, workflow_id)
    if workflow is None:
        raise NotFound("No such workflow in this organisation.")
    return workflow


def create_workflow(session: Session, principal: Principal, data: WorkflowCreate) -> Workflow:
    workflow = Workflow(
        organization_id=principal.organization_id,
        created_by_user=principal.user.id,
        updated_by_user=principal.user.id,
        **data.provided(),
    )
    session.add(workflow)
    session.flush()
    return workflow


def update_workflow(
    session: Session, principal: Principal, workflow_id: uuid.UUID, data: WorkflowUpdate
) -> Workflow:
    workflow = get_workflow(session, principal, workflow_id)
    for name, value in data.provided().items():
        setattr(workflow, name, value)
    workflow.updated_by_user = principal.user.id
    session.flush()
    return workflow


def delete_workflow(session: Session, principal: Principal, workflow_id: uuid.UUID) -> None:
    # Targets, their notification settings and history go with it (ON DELETE CASCADE).
    session.delete(get_workflow(session, principal, workflow_id))
    session.flush()
