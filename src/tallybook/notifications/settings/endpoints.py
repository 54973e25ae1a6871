"""The notification settings of a target: one set of routes per channel type, written out."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status

from tallybook.auth.dependencies import ReportingUser
from tallybook.kit.body import json_body
from tallybook.kit.db import DBSession
from tallybook.kit.errors import error_responses
from tallybook.kit.ids import parse_id
from tallybook.kit.openapi import raw_json_body
from tallybook.notifications.channels.registry import ChannelType
from tallybook.notifications.settings import service
from tallybook.notifications.settings.schemas import (
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
from tallybook.notifications.settings.service import TargetRef
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


def _setting_id(setting_id: str) -> uuid.UUID:
    return parse_id(setting_id, "notification setting")


@router.get(
    "", response_model=NotificationSettings, summary="Get all notification settings of a target"
)
def list_all(
    session: DBSession, principal: ReportingUser, workflow_id: str, target_id: str
) -> object:
    return service.list_all(session, principal, _ref(workflow_id, target_id))


# --- BAR ---


@router.get("/bar", response_model=list[BarSetting], summary="Get all bar settings")
def list_bar_settings(
    session: DBSession, principal: ReportingUser, workflow_id: str, target_id: str
) -> object:
    return service.list_settings(session, principal, _ref(workflow_id, target_id), ChannelType.BAR)


@router.get(
    "/bar/{setting_id}", response_model=BarSetting, summary="Get a BAR notification setting"
)
def get_bar_setting(
    session: DBSession, principal: ReportingUser, workflow_id: str, target_id: str, setting_id: str
) -> object:
    ref = _ref(workflow_id, target_id)
    return service.get_setting(session, principal, ref, ChannelType.BAR, _setting_id(setting_id))


@router.delete(
    "/bar/{setting_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Remove a BAR notification setting",
)
def delete_bar_setting(
    session: DBSession, principal: ReportingUser, workflow_id: str, target_id: str, setting_id: str
) -> None:
    ref = _ref(workflow_id, target_id)
    service.delete_setting(session, principal, ref, ChannelType.BAR, _setting_id(setting_id))


@router.post(
    "/bar",
    response_model=BarSetting,
    status_code=status.HTTP_201_CREATED,
    summary="Set a notification to BAR",
    openapi_extra=raw_json_body(BarSettingCreate),
)
def create_bar_setting(
    session: DBSession,
    principal: ReportingUser,
    workflow_id: str,
    target_id: str,
    data: Annotated[BarSettingCreate, json_body(BarSettingCreate)],
    allow_private: AllowPrivate,
) -> object:
    ref = _ref(workflow_id, target_id)
    return service.create_setting(session, principal, ref, data, allow_private=allow_private)


@router.patch(
    "/bar/{setting_id}",
    response_model=BarSetting,
    summary="Update a BAR notification setting",
    openapi_extra=raw_json_body(BarSettingUpdate),
)
def update_bar_setting(
    session: DBSession,
    principal: ReportingUser,
    workflow_id: str,
    target_id: str,
    setting_id: str,
    data: Annotated[BarSettingUpdate, json_body(BarSettingUpdate)],
    allow_private: AllowPrivate,
) -> object:
    ref = _ref(workflow_id, target_id)
    return service.update_setting(
        session, principal, ref, _setting_id(setting_id), data, allow_private=allow_private
    )


# --- Slack ---


@router.get("/slack", response_model=list[SlackSetting], summary="Get all slack settings")
def list_slack_settings(
    session: DBSession, principal: ReportingUser, workflow_id: str, target_id: str
) -> object:
    return service.list_settings(
        session, principal, _ref(workflow_id, target_id), ChannelType.SLACK
    )


@router.get(
    "/slack/{setting_id}", response_model=SlackSetting, summary="Get a Slack notification setting"
)
def get_slack_setting(
    session: DBSession, principal: ReportingUser, workflow_id: str, target_id: str, setting_id: str
) -> object:
    ref = _ref(workflow_id, target_id)
    return service.get_setting(session, principal, ref, ChannelType.SLACK, _setting_id(setting_id))


@router.delete(
    "/slack/{setting_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Remove a Slack notification setting",
)
def delete_slack_setting(
    session: DBSession, principal: ReportingUser, workflow_id: str, target_id: str, setting_id: str
) -> None:
    ref = _ref(workflow_id, target_id)
    service.delete_setting(session, principal, ref, ChannelType.SLACK, _setting_id(setting_id))


@router.post(
    "/slack",
    response_model=SlackSetting,
    status_code=status.HTTP_201_CREATED,
    summary="Set a notification to Slack",
    openapi_extra=raw_json_body(SlackSettingCreate),
)
def create_slack_setting(
    session: DBSession,
    principal: ReportingUser,
    workflow_id: str,
    target_id: str,
    data: Annotated[SlackSettingCreate, json_body(SlackSettingCreate)],
    allow_private: AllowPrivate,
) -> object:
    ref = _ref(workflow_id, target_id)
    return service.create_setting(session, principal, ref, data, allow_private=allow_private)


@router.patch(
    "/slack/{setting_id}",
    response_model=SlackSetting,
    summary="Update a Slack notification setting",
    openapi_extra=raw_json_body(SlackSettingUpdate),
)
def update_slack_setting(
    session: DBSession,
    principal: ReportingUser,
    workflow_id: str,
    target_id: str,
    setting_id: str,
    data: Annotated[SlackSettingUpdate, json_body(SlackSettingUpdate)],
    allow_private: AllowPrivate,
) -> object:
    ref = _ref(workflow_id, target_id)
    return service.update_setting(
        session, principal, ref, _setting_id(setting_id), data, allow_private=allow_private
    )


# --- E-mail ---


@router.get("/email", response_model=list[EmailSetting], summary="Get all email settings")
def list_email_settings(
    session: DBSession, principal: ReportingUser, workflow_id: str, target_id: str
) -> object:
    return service.list_settings(
        session, principal, _ref(workflow_id, target_id), ChannelType.EMAIL
    )


@router.get(
    "/email/{setting_id}", response_model=EmailSetting, summary="Get an email notification setting"
)
def get_email_setting(
    session: DBSession, principal: ReportingUser, workflow_id: str, target_id: str, setting_id: str
) -> object:
    ref = _ref(workflow_id, target_id)
    return service.get_setting(session, principal, ref, ChannelType.EMAIL, _setting_id(setting_id))


@router.delete(
    "/email/{setting_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Remove an email notification setting",
)
def delete_email_setting(
    session: DBSession, principal: ReportingUser, workflow_id: str, target_id: str, setting_id: str
) -> None:
    ref = _ref(workflow_id, target_id)
    service.delete_setting(session, principal, ref, ChannelType.EMAIL, _setting_id(setting_id))


@router.post(
    "/email",
    response_model=EmailSetting,
    status_code=status.HTTP_201_CREATED,
    summary="Set a notification to email",
    openapi_extra=raw_json_body(EmailSettingCreate),
)
def create_email_setting(
    session: DBSession,
    principal: ReportingUser,
    workflow_id: str,
    target_id: str,
    data: Annotated[EmailSettingCreate, json_body(EmailSettingCreate)],
    allow_private: AllowPrivate,
) -> object:
    ref = _ref(workflow_id, target_id)
    return service.create_setting(session, principal, ref, data, allow_private=allow_private)


@router.patch(
    "/email/{setting_id}",
    response_model=EmailSetting,
    summary="Update an email notification setting",
    openapi_extra=raw_json_body(EmailSettingUpdate),
)
def update_email_setting(
    session: DBSession,
    principal: ReportingUser,
    workflow_id: str,
    target_id: str,
    setting_id: str,
    data: Annotated[EmailSettingUpdate, json_body(EmailSettingUpdate)],
    allow_private: AllowPrivate,
) -> object:
    ref = _ref(workflow_id, target_id)
    return service.update_setting(
        session, principal, ref, _setting_id(setting_id), data, allow_private=allow_private
    )
