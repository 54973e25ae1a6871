from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from tallybook.kit.body import json_body
from tallybook.kit.db import DBSession
from tallybook.kit.errors import InvalidPayload
from tallybook.kit.openapi import raw_json_body
from tallybook.saferme.alerts import service
from tallybook.saferme.alerts.repository import ORDERABLE
from tallybook.saferme.alerts.schemas import AlertCreateBody, AlertUpdateBody, Notification
from tallybook.saferme.auth import TeamSettingsUser, TeamUser
from tallybook.saferme.ids import parse_int_id
from tallybook.saferme.ranges import RangeHeader, ranged
from tallybook.saferme.schemas import NotNull
from tallybook.saferme.web import V4_ERRORS, orderby_pattern

router = APIRouter(
    prefix="/api/v4/notifications", tags=["v4: notifications (alerts)"], responses=V4_ERRORS
)


def _archived(raw: str | None) -> bool | None:
    if raw is None:
        return None
    if raw in ("true", "false"):
        return raw == "true"
    raise InvalidPayload([{"loc": ["query", "archived"], "msg": "must be true or false"}])


@router.get("", response_model=list[Notification], summary="List the caller's notifications")
def list_notifications(
    session: DBSession,
    member: TeamUser,
    page: RangeHeader,
    response: Response,
    archived: Annotated[
        str | NotNull,
        Query(description="`true` or `false`.", json_schema_extra={"enum": ["true", "false"]}),
    ] = None,
    orderby: Annotated[
        str | NotNull,
        Query(
            description="`read asc,archived_at desc`; fields archived_at, read, "
            "created_at, updated_at, report.updated_at. Default `created_at desc`.",
            json_schema_extra={"pattern": orderby_pattern(tuple(ORDERABLE))},
        ),
    ] = None,
) -> object:
    rows, total = service.list_alerts(session, member, _archived(archived), orderby, page)
    return ranged(response, "notifications", page, rows, total)


@router.post(
    "",
    response_model=Notification,
    status_code=status.HTTP_201_CREATED,
    summary="Alert a user of the team to a report",
    openapi_extra=raw_json_body(AlertCreateBody),
)
def create_notification(
    session: DBSession,
    member: TeamSettingsUser,
    body: Annotated[AlertCreateBody, json_body(AlertCreateBody)],
) -> object:
    return service.create_alert(session, member, body.notification)


@router.get("/{alert_id}", response_model=Notification, summary="Get one of the caller's")
def get_notification(session: DBSession, member: TeamUser, alert_id: str) -> object:
    return service.get_alert(session, member, parse_int_id(alert_id, "notification"))


@router.patch(
    "/{alert_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Mark one of the caller's notifications read or archived",
    openapi_extra=raw_json_body(AlertUpdateBody),
)
def update_notification(
    session: DBSession,
    member: TeamUser,
    alert_id: str,
    body: Annotated[AlertUpdateBody, json_body(AlertUpdateBody)],
) -> Response:
    service.update_alert(session, member, parse_int_id(alert_id, "notification"), body.notification)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete(
    "/{alert_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete one of the caller's notifications",
)
def delete_notification(session: DBSession, member: TeamUser, alert_id: str) -> Response:
    service.delete_alert(session, member, parse_int_id(alert_id, "notification"))
    return Response(status_code=status.HTTP_204_NO_CONTENT)
