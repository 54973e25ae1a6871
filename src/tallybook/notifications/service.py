from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from tallybook.auth.dependencies import Principal
from tallybook.evaluations.repository import make_due
from tallybook.kit.errors import InvalidPayload, NotFound, invalid
from tallybook.kit.pagination import PageParams, PageResult
from tallybook.notifications import repository, slack_modes
from tallybook.notifications.cards import Card
from tallybook.notifications.models import KINDS, NotificationSetting
from tallybook.notifications.schemas import (
    BarSettingCreate,
    EmailSettingCreate,
    SettingCreate,
    SettingUpdate,
    SlackSettingCreate,
)
from tallybook.targets import repository as targets_repository
from tallybook.targets.models import Target
from tallybook.targets.service import get_target

_LABELS = {"bar": "BAR", "slack": "Slack", "email": "email"}
_NOT_NULL = ("target", "name", "is_notification_active", "channel_id", "email", "is_bundleable")
_DELIVERY_FIELDS = ("channel_id", "email", *slack_modes.SLACK_FIELDS)


@dataclass(frozen=True)
class TargetRef:
    """The target in the path, which settings are listed under and looked up through."""

    workflow_id: uuid.UUID
    target_id: uuid.UUID


def list_all(
    session: Session, principal: Principal, ref: TargetRef
) -> dict[str, list[NotificationSetting]]:
    target = _target(session, principal, ref)
    grouped: dict[str, list[NotificationSetting]] = {kind: [] for kind in KINDS}
    for setting in repository.list_for_target(session, principal.organization_id, target.id):
        grouped[setting.kind].append(setting)
    return grouped


def list_settings(
    session: Session, principal: Principal, ref: TargetRef, kind: str
) -> list[NotificationSetting]:
    target = _target(session, principal, ref)
    return repository.list_for_target(session, principal.organization_id, target.id, kind)


def get_setting(
    session: Session, principal: Principal, ref: TargetRef, kind: str, setting_id: uuid.UUID
) -> NotificationSetting:
    target = _target(session, principal, ref)
    setting = repository.get(session, principal.organization_id, target.id, kind, setting_id)
    if setting is None:
        raise NotFound(f"No such {_LABELS[kind]} notification setting for this target.")
    return setting


def create_setting(
    session: Session,
    principal: Principal,
    ref: TargetRef,
    data: SettingCreate,
    *,
    allow_private: bool,
) -> NotificationSetting:
    target = _target(session, principal, ref)
    if data.target is not None and data.target != target.id:
        raise invalid(
            ["target"],
            "A setting is created under the target in the path; "
            "to move a setting to another target, PATCH its target.",
        )
    setting = NotificationSetting(
        organization_id=principal.organization_id,
        target_id=target.id,
        kind=data.kind,
        name=data.name,
        is_notification_active=data.is_notification_active,
        **_new_delivery_fields(session, principal, data, allow_private),
    )
    session.add(setting)
    session.flush()
    make_due(session, principal.organization_id, target.id)
    return setting


def update_setting(
    session: Session,
    principal: Principal,
    ref: TargetRef,
    setting_id: uuid.UUID,
    data: SettingUpdate,
    *,
    allow_private: bool,
) -> NotificationSetting:
    setting = get_setting(session, principal, ref, data.kind, setting_id)
    changes = data.provided()
    _refuse_nulls(changes)
    new_target = changes.pop("target", None)
    if new_target is not None:
        _check_move(session, principal, new_target)
    changes = _changed_delivery_fields(session, principal, setting, changes, allow_private)
    _apply(setting, changes)
    if new_target is not None:
        setting.target_id = new_target
    session.flush()
    make_due(session, principal.organization_id, setting.target_id)
    return setting


def delete_setting(
    session: Session, principal: Principal, ref: TargetRef, kind: str, setting_id: uuid.UUID
) -> None:
    session.delete(get_setting(session, principal, ref, kind, setting_id))
    session.flush()


def _target(session: Session, principal: Principal, ref: TargetRef) -> Target:
    return get_target(session, principal, ref.workflow_id, ref.target_id)


def _new_delivery_fields(
    session: Session, principal: Principal, data: SettingCreate, allow_private: bool
) -> dict[str, Any]:
    if isinstance(data, BarSettingCreate):
        _check_chat(session, principal, data.channel_id)
        return {"channel_id": data.channel_id}
    if isinstance(data, SlackSettingCreate):
        values = {name: getattr(data, name) for name in slack_modes.SLACK_FIELDS}
        return slack_modes.fields_for_create(values, allow_private=allow_private)
    if isinstance(data, EmailSettingCreate):
        return {"email": data.email, "is_bundleable": data.is_bundleable}
    raise TypeError(f"unknown notification setting payload {type(data).__name__}")


def _changed_delivery_fields(
    session: Session,
    principal: Principal,
    setting: NotificationSetting,
    changes: dict[str, Any],
    allow_private: bool,
) -> dict[str, Any]:
    if "channel_id" in changes:
        _check_chat(session, principal, changes["channel_id"])
    if setting.kind != "slack":
        return changes
    slack = {name: changes.pop(name) for name in slack_modes.SLACK_FIELDS if name in changes}
    return changes | slack_modes.fields_for_update(setting, slack, allow_private=allow_private)


def _apply(setting: NotificationSetting, changes: dict[str, Any]) -> None:
    # An error the worker recorded is about the old delivery configuration.
    if any(getattr(setting, name) != changes[name] for name in _DELIVERY_FIELDS if name in changes):
        setting.last_error = None
        setting.consecutive_errors = 0
    for name, value in changes.items():
        setattr(setting, name, value)


def _refuse_nulls(changes: dict[str, Any]) -> None:
    nulled = [name for name in _NOT_NULL if name in changes and changes[name] is None]
    if nulled:
        raise InvalidPayload(
            [{"loc": ["body", name], "msg": "This field cannot be null."} for name in nulled]
        )


def _check_move(session: Session, principal: Principal, target_id: uuid.UUID) -> None:
    if targets_repository.get(session, principal.organization_id, target_id) is None:
        raise invalid(["target"], "No such target in this organisation.")


def _check_chat(session: Session, principal: Principal, chat_id: uuid.UUID) -> None:
    if not repository.chat_exists(session, principal.organization_id, chat_id):
        raise invalid(["channel_id"], "No such chat in this organisation.")


def delivery_log(
    session: Session, principal: Principal, ref: TargetRef, params: PageParams
) -> PageResult:
    """The target's notifications, newest first, each with its delivery attempts."""
    target = _target(session, principal, ref)
    rows, next_link, previous_link = repository.log_page(
        session, principal.organization_id, target.id, params
    )
    attempts = repository.attempts_of(session, principal.organization_id, [r.id for r in rows])
    entries = [
        {
            "id": row.id,
            "target": row.target_id,
            "setting": row.setting_id,
            "channel": row.channel,
            "kind": row.kind,
            "period_start": row.period_start,
            "period_end": row.period_end,
            "state": row.state,
            "attempts": row.attempts,
            "next_attempt_at": row.next_attempt_at if row.state == "pending" else None,
            "last_error": row.last_error,
            "created_at": row.created_at,
            "sent_at": row.sent_at,
            "card": Card.from_json(row.card).to_json(),  # as stored, in today's format
            "attempt_log": attempts[row.id],
        }
        for row in rows
    ]
    return entries, next_link, previous_link
