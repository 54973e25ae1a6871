from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Response, status

from tallybook.auth.dependencies import ReportingUser
from tallybook.events.endpoints import EventStoreDep
from tallybook.kit.body import json_body
from tallybook.kit.db import DBSession
from tallybook.kit.errors import error_responses
from tallybook.kit.ids import parse_id
from tallybook.kit.openapi import raw_json_body
from tallybook.targets import service
from tallybook.targets.schemas import Target, TargetCreate, TargetTest, TargetUpdate

router = APIRouter(
    prefix="/api/objectives/v1/orgs/{org_id}/workflows/{workflow_id}/targets",
    tags=["Conversational Reporting: business targets"],
    responses=error_responses(400, 401, 403, 404),
)


@router.get("", response_model=list[Target], summary="List all business targets")
def list_targets(session: DBSession, principal: ReportingUser, workflow_id: str) -> object:
    return service.list_targets(session, principal, parse_id(workflow_id, "workflow"))


@router.post(
    "",
    response_model=Target,
    status_code=status.HTTP_201_CREATED,
    summary="Create a business target",
    openapi_extra=raw_json_body(TargetCreate),
)
def create_target(
    session: DBSession,
    principal: ReportingUser,
    store: EventStoreDep,
    workflow_id: str,
    data: Annotated[TargetCreate, json_body(TargetCreate)],
) -> object:
    return service.create_target(session, principal, store, parse_id(workflow_id, "workflow"), data)


@router.get("/{target_id}", response_model=Target, summary="Get a business target")
def get_target(
    session: DBSession, principal: ReportingUser, workflow_id: str, target_id: str
) -> object:
    return service.get_target(
        session, principal, parse_id(workflow_id, "workflow"), parse_id(target_id, "target")
    )


@router.patch(
    "/{target_id}",
    response_model=Target,
    summary="Update a business target",
    openapi_extra=raw_json_body(TargetUpdate),
)
def update_target(
    session: DBSession,
    principal: ReportingUser,
    store: EventStoreDep,
    workflow_id: str,
    target_id: str,
    data: Annotated[TargetUpdate, json_body(TargetUpdate)],
) -> object:
    return service.update_target(
        session,
        principal,
        store,
        parse_id(workflow_id, "workflow"),
        parse_id(target_id, "target"),
        data,
    )


@router.delete(
    "/{target_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Remove a business target with its notification settings",
)
def delete_target(
    session: DBSession, principal: ReportingUser, workflow_id: str, target_id: str
) -> None:
    service.delete_target(
        session, principal, parse_id(workflow_id, "workflow"), parse_id(target_id, "target")
    )


@router.get(
    "/{target_id}/test",
    response_model=TargetTest,
    summary="Test a business target on the current reporting period",
)
def test_target(
    session: DBSession,
    principal: ReportingUser,
    store: EventStoreDep,
    workflow_id: str,
    target_id: str,
) -> object:
    return service.test_target(
        session,
        principal,
        store,
        parse_id(workflow_id, "workflow"),
        parse_id(target_id, "target"),
        datetime.now(UTC),
    )
