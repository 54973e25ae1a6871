from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Response, status

from tallybook.auth.dependencies import ReportingUser
from tallybook.kit.body import json_body
from tallybook.kit.db import DBSession
from tallybook.kit.errors import error_responses
from tallybook.kit.ids import parse_id
from tallybook.kit.openapi import raw_json_body
from tallybook.workflows import service
from tallybook.workflows.schemas import Workflow, WorkflowCreate, WorkflowUpdate

router = APIRouter(
    prefix="/api/objectives/v1/orgs/{org_id}/workflows",
    tags=["Conversational Reporting: workflows"],
    responses=error_responses(400, 401, 403, 404),
)


@router.get("", response_model=list[Workflow], summary="List all workflows")
def list_workflows(session: DBSession, principal: ReportingUser) -> object:
    return service.list_workflows(session, principal)


@router.post(
    "",
    response_model=Workflow,
    status_code=status.HTTP_201_CREATED,
    summary="Create a workflow",
    openapi_extra=raw_json_body(WorkflowCreate),
)
def create_workflow(
    session: DBSession,
    principal: ReportingUser,
    data: Annotated[WorkflowCreate, json_body(WorkflowCreate)],
) -> object:
    return service.create_workflow(session, principal, data)


@router.get("/{workflow_id}", response_model=Workflow, summary="Get a single workflow")
def get_workflow(session: DBSession, principal: ReportingUser, workflow_id: str) -> object:
    return service.get_workflow(session, principal, parse_id(workflow_id, "workflow"))


@router.patch(
    "/{workflow_id}",
    response_model=Workflow,
    summary="Update a workflow",
    openapi_extra=raw_json_body(WorkflowUpdate),
)
def update_workflow(
    session: DBSession,
    principal: ReportingUser,
    workflow_id: str,
    data: Annotated[WorkflowUpdate, json_body(WorkflowUpdate)],
) -> object:
    return service.update_workflow(session, principal, parse_id(workflow_id, "workflow"), data)


@router.delete(
    "/{workflow_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Remove a workflow with its targets and notification settings",
)
def delete_workflow(session: DBSession, principal: ReportingUser, workflow_id: str) -> None:
    service.delete_workflow(session, principal, parse_id(workflow_id, "workflow"))
