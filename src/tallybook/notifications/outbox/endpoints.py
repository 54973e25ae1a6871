"""The notification log of a target (DESIGN §6, History)."""

from __future__ import annotations

from fastapi import APIRouter

from tallybook.auth.dependencies import ReportingUser
from tallybook.kit.db import DBSession
from tallybook.kit.errors import error_responses
from tallybook.kit.ids import parse_id
from tallybook.kit.pagination import CursorPage, PageQuery, page_body
from tallybook.notifications.outbox import log
from tallybook.notifications.outbox.schemas import NotificationLogEntry

router = APIRouter(
    prefix="/api/objectives/v1/orgs/{org_id}/workflows/{workflow_id}/targets/{target_id}"
    "/notifications",
    tags=["Conversational Reporting: notification settings"],
    responses=error_responses(400, 401, 403, 404),
)


@router.get(
    "/log",
    response_model=CursorPage[NotificationLogEntry],
    summary="List what was queued and sent for a target, newest first, with every attempt",
)
def delivery_log(
    session: DBSession, principal: ReportingUser, workflow_id: str, target_id: str, page: PageQuery
) -> object:
    return page_body(
        log.delivery_log(
            session,
            principal,
            parse_id(workflow_id, "workflow"),
            parse_id(target_id, "target"),
            page,
        )
    )
