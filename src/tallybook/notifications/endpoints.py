from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response, status

from tallybook.auth.dependencies import ReportingUser
from tallybook.kit.db import DBSession
from tallybook.kit.errors import error_responses
from tallybook.kit.ids import parse_id
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


_add_read_and_delete_routes("bar", "a BAR", BarSetting)
_add_read_and_delete_routes("slack", "a Slack", SlackSetting)
_add_read_and_delete_routes("email", "an email", EmailSetting)


@router.post(
    "/bar",
    response_model=BarSetting,
    status_code=status.HTTP_201_CREATED,
    summary="Set a notification to BAR",
)
def create_bar_setting(
    session: DBSession,
    principal: ReportingUser,
    workflow_id: str,
    target_id: str,
    data: BarSettingCreate,
    allow_private: AllowPrivate,
) -> object:
    return service.create_setting(
        session, principal, _ref(workflow_id, target_id), data, allow_private=allow_private
    )


@router.patch(
    "/bar/{setting_id}", response_model=BarSetting, summary="Update a BAR notification setting"
)
def update_bar_setting(
    session: DBSession,
    principal: ReportingUser,
    workflow_id: str,
    target_id: str,
    setting_id: str,
    data: BarSettingUpdate,
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


@router.post(
    "/slack",
    response_model=SlackSetting,
    status_code=status.HTTP_201_CREATED,
    summary="Set a notification to Slack",
)
def create_slack_setting(
    session: DBSession,
    principal: ReportingUser,
    workflow_id: str,
    target_id: str,
    data: SlackSettingCreate,
    allow_private: AllowPrivate,
) -> object:
    return service.create_setting(
        session, principal, _ref(workflow_id, target_id), data, allow_private=allow_private
    )


@router.patch(
    "/slack/{setting_id}",
    response_model=SlackSetting,
    summary="Update a Slack notification setting",
)
def update_slack_setting(
    session: DBSession,
    principal: ReportingUser,
    workflow_id: str,
    target_id: str,
    setting_id: str,
    data: SlackSettingUpdate,
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


@router.post(
    "/email",
    response_model=EmailSetting,
    status_code=status.HTTP_201_CREATED,
    summary="Set a notification to email",
)
def create_email_setting(
    session: DBSession,
    principal: ReportingUser,
    workflow_id: str,
    target_id: str,
    data: EmailSettingCreate,
    allow_private: AllowPrivate,
) -> object:
    return service.create_setting(
        session, principal, _ref(workflow_id, target_id), data, allow_private=allow_private
    )


@router.patch(
    "/email/{setting_id}",
    response_model=EmailSetting,
    summary="Update an email notification setting",
)
def update_email_setting(
    session: DBSession,
    principal: ReportingUser,
    workflow_id: str,
    target_id: str,
    setting_id: str,
    data: EmailSettingUpdate,
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
