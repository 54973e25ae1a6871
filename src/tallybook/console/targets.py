"""The targets overview and a target's page: values, charts, the edit form, notification
settings and their log. Every read and write goes through the services the API calls."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from markupsafe import Markup
from sqlalchemy.orm import Session

from tallybook.auth.principal import Principal
from tallybook.console import charts
from tallybook.console.forms import setting_body, target_body
from tallybook.console.web import Console, ConsoleDep, ConsoleRoute, field_errors
from tallybook.evaluations import repository as evaluations
from tallybook.events.endpoints import EventStoreDep
from tallybook.events.store import EventStore
from tallybook.kit.body import validate_body
from tallybook.kit.db import DBSession
from tallybook.kit.errors import InvalidPayload, NotFound
from tallybook.kit.ids import parse_id
from tallybook.kit.pagination import PageParams
from tallybook.notifications.channels.registry import ChannelType
from tallybook.notifications.models import NotificationSetting
from tallybook.notifications.outbox.log import delivery_log
from tallybook.notifications.settings import service as notifications
from tallybook.notifications.settings.schemas import (
    BarSettingCreate,
    BarSettingUpdate,
    EmailSettingCreate,
    EmailSettingUpdate,
    SettingCreate,
    SettingUpdate,
    SlackSettingCreate,
    SlackSettingUpdate,
)
from tallybook.notifications.settings.service import TargetRef
from tallybook.settings import Settings
from tallybook.targets import service as targets
from tallybook.targets.models import Target
from tallybook.targets.schemas import TargetCreate, TargetTest, TargetUpdate
from tallybook.workflows import service as workflows
from tallybook.workflows.models import Workflow

router = APIRouter(route_class=ConsoleRoute)

SPARK_PERIODS = 10
CHART_PERIODS = 30
LOG_ENTRIES = 20
CREATE_MODELS: dict[str, type[SettingCreate]] = {
    ChannelType.SLACK: SlackSettingCreate,
    ChannelType.EMAIL: EmailSettingCreate,
    ChannelType.BAR: BarSettingCreate,
}
UPDATE_MODELS: dict[str, type[SettingUpdate]] = {
    ChannelType.SLACK: SlackSettingUpdate,
    ChannelType.EMAIL: EmailSettingUpdate,
    ChannelType.BAR: BarSettingUpdate,
}
NEW_TARGET = {
    "name": "",
    "reporting_bound": "LOWER",
    "reporting_threshold": "",
    "reporting_field": "count",
    "reporting_period": "P1D",
    "notification_period": "",
    "target_active_from": "",
    "target_active_until": "",
    "are_notifications_active": True,
    "reporting_query": '{\n  "vendor": "com.example.shop",\n  "granularity": "all",\n'
    '  "aggregations": ["count"]\n}',
}


@dataclass
class Channel:
    """A notification setting as the overview shows it, with its latest delivery."""

    setting: NotificationSetting
    last_state: str | None = None
    last_at: datetime | None = None


@dataclass
class TargetRow:
    target: Target
    workflow: Workflow
    now: TargetTest
    bar: Markup
    spark: Markup
    channels: list[Channel] = field(default_factory=list)


def _allow_private(request: Request) -> bool:
    settings: Settings = request.app.state.settings
    return settings.outbound_allow_private


def _channels(
    session: Session, principal: Principal, request: Request, target: Target
) -> list[Channel]:
    ref = TargetRef(target.workflow_id, target.id)
    grouped = notifications.list_all(session, principal, ref)
    found = {s.id: Channel(s) for kind in grouped.values() for s in kind}
    entries, _, _ = delivery_log(
        session, principal, ref.workflow_id, ref.target_id, PageParams(None, LOG_ENTRIES, request)
    )
    for entry in entries:  # newest first: the first entry of a setting is its latest
        channel = found.get(entry["setting"])
        if channel is not None and channel.last_state is None:
            channel.last_state = str(entry["state"])
            channel.last_at = entry["sent_at"] or entry["created_at"]
    for channel in found.values():  # older than the log's latest entries: its last success
        if channel.last_state is None and channel.setting.last_notification_sent is not None:
            channel.last_state, channel.last_at = "sent", channel.setting.last_notification_sent
    return list(found.values())


def _row(
    session: Session,
    principal: Principal,
    store: EventStore,
    request: Request,
    workflow: Workflow,
    target: Target,
    now: datetime,
) -> TargetRow:
    current = targets.test_target(session, principal, store, workflow.id, target.id, now)
    recent = evaluations.recent_evaluations(
        session, principal.organization_id, target.id, now, SPARK_PERIODS
    )
    return TargetRow(
        target,
        workflow,
        current,
        charts.progress(current.value, current.threshold, current.is_reached),
        charts.sparkline([(e.value, e.is_reached) for e in recent]),
        _channels(session, principal, request, target),
    )


@router.get("/targets", response_class=HTMLResponse)
def overview(
    console: ConsoleDep,
    session: DBSession,
    store: EventStoreDep,
    request: Request,
    workflow: str | None = None,
) -> HTMLResponse:
    principal = console.require("reporting")
    now = datetime.now(UTC)
    every = workflows.list_workflows(session, principal)
    chosen = [w for w in every if not workflow or str(w.id) == workflow]
    by_workflow = targets.targets_by_workflow(session, principal)
    rows = [
        _row(session, principal, store, request, w, t, now)
        for w in chosen
        for t in by_workflow.get(w.id, [])
    ]
    return console.page(
        "targets.html", workflows=every, selected=workflow or "", rows=rows, number=charts.number
    )


@router.get("/targets/new", response_class=HTMLResponse)
def new_target(console: ConsoleDep, session: DBSession, workflow: str = "") -> HTMLResponse:
    principal = console.require("reporting")
    every = workflows.list_workflows(session, principal)
    return console.page(
        "target_new.html", workflows=every, selected=workflow, values=NEW_TARGET, errors={}
    )


@router.post("/targets/new", response_model=None)
async def create_target(
    console: ConsoleDep, session: DBSession, store: EventStoreDep
) -> HTMLResponse | RedirectResponse:
    principal = console.require("reporting")
    form = await console.form()
    workflow_id = form.get("workflow", "")
    try:
        data = validate_body(TargetCreate, target_body(form))
        wid = parse_id(workflow_id, "workflow")
        target = targets.create_target(session, principal, store, wid, data)
    except InvalidPayload as exc:
        session.rollback()
        values = {
            **NEW_TARGET,
            **form,
            "are_notifications_active": "are_notifications_active" in form,
        }
        return console.page(
            "target_new.html",
            status_code=400,
            workflows=workflows.list_workflows(session, principal),
            selected=workflow_id,
            values=values,
            errors=field_errors(exc.errors or []),
        )
    return console.redirect(f"/console/workflows/{target.workflow_id}/targets/{target.id}")


def _target_values(target: Target) -> dict[str, Any]:
    query = orjson.dumps(target.reporting_query, option=orjson.OPT_INDENT_2).decode()
    return {
        "name": target.name,
        "reporting_bound": target.reporting_bound,
        "reporting_threshold": _plain(target.reporting_threshold),
        "reporting_field": target.reporting_field,
        "reporting_period": target.reporting_period,
        "notification_period": target.notification_period or "",
        "target_active_from": _local_input(target.target_active_from),
        "target_active_until": _local_input(target.target_active_until),
        "are_notifications_active": target.are_notifications_active,
        "reporting_query": query,
    }


def _plain(value: float) -> str:
    return str(int(value)) if value.is_integer() else repr(value)


def _local_input(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if value else ""


def _target_page(
    console: Console,
    session: Session,
    store: EventStore,
    workflow_id: uuid.UUID,
    target_id: uuid.UUID,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, list[str]] | None = None,
    setting_errors: dict[str, dict[str, list[str]]] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    principal = console.require("reporting")
    request = console.request
    now = datetime.now(UTC)
    target = targets.get_target(session, principal, workflow_id, target_id)
    workflow = workflows.get_workflow(session, principal, workflow_id)
    current = targets.test_target(session, principal, store, workflow_id, target_id, now)
    history = evaluations.recent_evaluations(
        session, principal.organization_id, target.id, now, CHART_PERIODS
    )
    zone = ZoneInfo(principal.organization.timezone)  # periods are the organisation's days
    bars = [
        charts.Bar(f"{e.period_start.astimezone(zone):%m-%d}", e.value, e.is_reached)
        for e in history
    ] + [charts.Bar("now", current.value, None, current=True)]
    chart = charts.period_chart(
        bars,
        current.threshold,
        f"{target.name}: the value of each evaluated period and the current one, "
        f"against the threshold {charts.number(current.threshold)}",
    )
    ref = TargetRef(workflow_id, target_id)
    log, _, _ = delivery_log(
        session, principal, workflow_id, target_id, PageParams(None, LOG_ENTRIES, request)
    )
    return console.page(
        "target.html",
        status_code=status_code,
        target=target,
        workflow=workflow,
        current=current,
        chart=chart,
        history=list(reversed(history)),
        settings=notifications.list_all(session, principal, ref),
        log=log,
        values=values or _target_values(target),
        errors=errors or {},
        setting_errors=setting_errors or {},
        number=charts.number,
        progress=charts.progress(current.value, current.threshold, current.is_reached),
    )


def _ids(workflow_id: str, target_id: str) -> tuple[uuid.UUID, uuid.UUID]:
    return parse_id(workflow_id, "workflow"), parse_id(target_id, "target")


@router.get("/workflows/{workflow_id}/targets/{target_id}", response_class=HTMLResponse)
def target_page(
    console: ConsoleDep, session: DBSession, store: EventStoreDep, workflow_id: str, target_id: str
) -> HTMLResponse:
    return _target_page(console, session, store, *_ids(workflow_id, target_id))


@router.get("/workflows/{workflow_id}/targets/{target_id}/current", response_class=HTMLResponse)
def current_value(
    console: ConsoleDep, session: DBSession, store: EventStoreDep, workflow_id: str, target_id: str
) -> HTMLResponse:
    """The current period's value alone, which the page's script reloads every minute."""
    principal = console.require("reporting")
    wid, tid = _ids(workflow_id, target_id)
    current = targets.test_target(session, principal, store, wid, tid, datetime.now(UTC))
    return console.fragment(
        "_current.html",
        current=current,
        number=charts.number,
        progress=charts.progress(current.value, current.threshold, current.is_reached),
    )


@router.post("/workflows/{workflow_id}/targets/{target_id}", response_model=None)
async def update_target(
    console: ConsoleDep, session: DBSession, store: EventStoreDep, workflow_id: str, target_id: str
) -> HTMLResponse | RedirectResponse:
    principal = console.require("reporting")
    wid, tid = _ids(workflow_id, target_id)
    form = await console.form()
    try:
        data = validate_body(TargetUpdate, target_body(form))
        targets.update_target(session, principal, store, wid, tid, data)
    except InvalidPayload as exc:
        session.rollback()
        values = {**form, "are_notifications_active": "are_notifications_active" in form}
        return _target_page(
            console,
            session,
            store,
            wid,
            tid,
            values=values,
            errors=field_errors(exc.errors or []),
            status_code=400,
        )
    return console.redirect(f"/console/workflows/{wid}/targets/{tid}?saved=target")


@router.post("/workflows/{workflow_id}/targets/{target_id}/delete", response_model=None)
async def delete_target(
    console: ConsoleDep, session: DBSession, workflow_id: str, target_id: str
) -> RedirectResponse:
    principal = console.require("reporting")
    wid, tid = _ids(workflow_id, target_id)
    await console.form()
    targets.delete_target(session, principal, wid, tid)
    return console.redirect(f"/console/targets?workflow={wid}")


def _channel_type(raw: str) -> ChannelType:
    try:
        return ChannelType(raw)
    except ValueError:
        raise NotFound("No such notification channel.") from None


@router.post("/workflows/{workflow_id}/targets/{target_id}/notifications", response_model=None)
async def add_setting(
    console: ConsoleDep,
    session: DBSession,
    store: EventStoreDep,
    request: Request,
    workflow_id: str,
    target_id: str,
) -> HTMLResponse | RedirectResponse:
    principal = console.require("reporting")
    wid, tid = _ids(workflow_id, target_id)
    form = await console.form()
    channel_type = _channel_type(form.get("channel_type", ""))
    try:
        data = validate_body(
            CREATE_MODELS[channel_type], setting_body(channel_type, form, creating=True)
        )
        notifications.create_setting(
            session, principal, TargetRef(wid, tid), data, allow_private=_allow_private(request)
        )
    except InvalidPayload as exc:
        session.rollback()
        return _target_page(
            console,
            session,
            store,
            wid,
            tid,
            setting_errors={f"new-{channel_type}": field_errors(exc.errors or [])},
            status_code=400,
        )
    return console.redirect(f"/console/workflows/{wid}/targets/{tid}?saved=setting#notifications")


@router.post(
    "/workflows/{workflow_id}/targets/{target_id}/notifications/{channel}/{setting_id}",
    response_model=None,
)
async def edit_setting(
    console: ConsoleDep,
    session: DBSession,
    store: EventStoreDep,
    request: Request,
    workflow_id: str,
    target_id: str,
    channel: str,
    setting_id: str,
) -> HTMLResponse | RedirectResponse:
    """Edit, pause/resume (``action=pause``/``resume``) or delete (``action=delete``)."""
    principal = console.require("reporting")
    wid, tid = _ids(workflow_id, target_id)
    channel_type = _channel_type(channel)
    sid = parse_id(setting_id, "notification setting")
    ref = TargetRef(wid, tid)
    form = await console.form()
    action = form.get("action", "save")
    if action == "delete":
        notifications.delete_setting(session, principal, ref, channel_type, sid)
        return console.redirect(f"/console/workflows/{wid}/targets/{tid}#notifications")
    if action in ("pause", "resume"):
        body: dict[str, Any] = {"is_notification_active": action == "resume"}
    else:
        body = setting_body(channel_type, form, creating=False)
    try:
        data = validate_body(UPDATE_MODELS[channel_type], body)
        notifications.update_setting(
            session, principal, ref, sid, data, allow_private=_allow_private(request)
        )
    except InvalidPayload as exc:
        session.rollback()
        return _target_page(
            console,
            session,
            store,
            wid,
            tid,
            setting_errors={str(sid): field_errors(exc.errors or [])},
            status_code=400,
        )
    return console.redirect(f"/console/workflows/{wid}/targets/{tid}?saved=setting#notifications")
