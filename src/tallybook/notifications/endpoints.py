from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response, status

from tallybook.auth.dependencies import ReportingUser
from tallybook.evaluations.schemas import NotificationLogEntry
from tallybook.kit.db import DBSession
from tallybook.kit.errors import error_responses
from tallybook.kit.ids import parse_id
from tallybook.kit.pagination import CursorPage, PageQuery, page_body
from tallybook.notifications import service
from tallybook.notifications.schemas import (
    BarSetting,
    BarSettingCreate,
    BarSettingUpdate,
    EmailSetting,
    EmailSettingCreate,
    EmailSettingUpdate,
    NotificationSettings,
    SlackSetting,
    SlackSettingCreate,
    SlackSettingUpdate,
)
from tallybook.notifications.service import TargetRef
from tallybook.settings import Settings

router = APIRouter(
    prefix="/api/objectives/v1/orgs/{org_id}/workflows/{workflow_id}/targets/{target_id}"
    "/notifications",
    tags=["Conversational Reporting: notification settings"],
    responses=error_responses(400, 401, 403, 404),
)


def _allow_private(request: Request) -> bool:
    settings: Settings = request.app.state.settings
    return settings.outbound_allow_private


AllowPrivate = Annotated[bool, Depends(_allow_private)]


def _ref(workflow_id: str, target_id: str) -> TargetRef:
    return TargetRef(parse_id(workflow_id, "workflow"), parse_id(target_id, "target"))


@router.get(
    "", response_model=NotificationSettings, summary="Get all notification settings of a target"
)
def list_all(
    session: DBSession, principal: ReportingUser, workflow_id: str, target_id: str
) -> object:
    return service.list_all(session, principal, _ref(workflow_id, target_id))


@router.get(
    "/log",
    response_model=CursorPage[NotificationLogEntry],
    summary="List what was queued and sent for a target, newest first, with every attempt",
)
def delivery_log(
    session: DBSession, principal: ReportingUser, workflow_id: str, target_id: str, page: PageQuery
) -> object:
    return page_body(service.delivery_log(session, principal, _ref(workflow_id, target_id), page))


def _add_read_and_delete_routes(kind: str, label: str, model: type[Any]) -> None:
    """GET list, GET one and DELETE, which differ between kinds only in the response model."""

    @router.get(
        f"/{kind}",
        response_model=list[model],  # type: ignore[valid-type]
        summary=f"Get all {kind} settings",
        name=f"list_{kind}_settings",
    )
    def list_kind(
        session: DBSession, principal: ReportingUser, workflow_id: str, target_id: str
    ) -> object:
        return service.list_settings(session, principal, _ref(workflow_id, target_id), kind)

    @router.get(
        f"/{kind}/{{setting_id}}",
        response_model=model,
        summary=f"Get {label} notification setting",
        name=f"get_{kind}_setting",
    )
    def get_kind(
        session: DBSession,
        principal: ReportingUser,
        workflow_id: str,
        target_id: str,
        setting_id: str,
    ) -> object:
        return service.get_setting(
            session,
            principal,
            _ref(workflow_id, target_id),
            kind,
            parse_id(setting_id, "notification setting"),
        )

    @router.delete(
        f"/{kind}/{{setting_id}}",
        status_code=status.HTTP_204_NO_CONTENT,
        response_class=Response,
        summary=f"Remove {label} notification setting",
        name=f"delete_{kind}_setting",
    )
    def delete_kind(
        session: DBSession,
        principal: ReportingUser,
        workflow_id: str,
        target_id: str,
        setting_id: str,
    ) -> None:
        service.delete_setting(
            session,
            principal,
            _ref(workflow_id, target_id),
            kind,
            parse_id(setting_id, "notification setting"),
        )


def _add_write_routes(
    kind: str, title: str, label: str, model: type[Any], create: type[Any], update: type[Any]
) -> None:
    """POST and PATCH; the body models are set on the signatures so OpenAPI documents each
    kind's own payload."""

    @router.post(
        f"/{kind}",
        response_model=model,
        status_code=status.HTTP_201_CREATED,
        summary=f"Set a notification to {title}",
        name=f"create_{kind}_setting",
    )
    def create_kind(
        session: DBSession,
        principal: ReportingUser,
        workflow_id: str,
        target_id: str,
        data: Any,
        allow_private: AllowPrivate,
    ) -> object:
        return service.create_setting(
            session, principal, _ref(workflow_id, target_id), data, allow_private=allow_private
        )

    @router.patch(
        f"/{kind}/{{setting_id}}",
        response_model=model,
        summary=f"Update {label} notification setting",
        name=f"update_{kind}_setting",
    )
    def update_kind(
        session: DBSession,
        principal: ReportingUser,
        workflow_id: str,
        target_id: str,
        setting_id: str,
        data: Any,
        allow_private: AllowPrivate,
    ) -> object:
        return service.update_setting(
            session,
            principal,
            _ref(workflow_id, target_id),
            parse_id(setting_id, "notification setting"),
            data,
            allow_private=allow_private,
        )

    create_kind.__annotations__["data"] = create
    update_kind.__annotations__["data"] = update


for _kind, _title, _label, _model, _create, _update in (
    ("bar", "BAR", "a BAR", BarSetting, BarSettingCreate, BarSettingUpdate),
    ("slack", "Slack", "a Slack", SlackSetting, SlackSettingCreate, SlackSettingUpdate),
    ("email", "email", "an email", EmailSetting, EmailSettingCreate, EmailSettingUpdate),
):
    _add_read_and_delete_routes(_kind, _label, _model)
    _add_write_routes(_kind, _title, _label, _model, _create, _update)
