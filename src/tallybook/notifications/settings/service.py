from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from tallybook.auth.principal import Principal
from tallybook.kit.errors import InvalidPayload, NotFound, invalid
from tallybook.notifications.channels.base import as_attributes
from tallybook.notifications.channels.registry import CHANNELS, ChannelType, channel_for
from tallybook.notifications.models import NotificationSetting
from tallybook.notifications.settings import repository
from tallybook.notifications.settings.schemas import SettingCreate, SettingUpdate
from tallybook.targets import repository as targets_repository
from tallybook.targets.models import Target
from tallybook.targets.service import get_target

_NOT_NULL = ("target", "name", "is_notification_active", "channel_id", "email", "is_bundleable")
# An error the worker recorded is about where cards go: a change there clears it.
_DELIVERY_ATTRIBUTES = tuple(
    name
    for channel in CHANNELS.values()
    for name in as_attributes(channel, dict.fromkeys(channel.address_fields))
)


@dataclass(frozen=True)
class TargetRef:
    """The target in the path, which settings are listed under and looked up through."""

    workflow_id: uuid.UUID
    target_id: uuid.UUID


def list_all(
    session: Session, principal: Principal, ref: TargetRef
) -> dict[str, list[NotificationSetting]]:
    target = _target(session, principal, ref)
    grouped: dict[str, list[NotificationSetting]] = {str(kind): [] for kind in ChannelType}
    for setting in repository.list_for_target(session, principal.organization_id, target.id):
        grouped[setting.channel_type].append(setting)
    return grouped


def list_settings(
    session: Session, principal: Principal, ref: TargetRef, channel_type: ChannelType
) -> list[NotificationSetting]:
    target = _target(session, principal, ref)
    return repository.list_for_target(session, principal.organization_id, target.id, channel_type)


def get_setting(
    session: Session,
    principal: Principal,
    ref: TargetRef,
    channel_type: ChannelType,
    setting_id: uuid.UUID,
) -> NotificationSetting:
    target = _target(session, principal, ref)
    setting = repository.get(
        session, principal.organization_id, target.id, channel_type, setting_id
    )
    if setting is None:
        label = channel_for(channel_type).label
        raise NotFound(f"No such {label} notification setting for this target.")
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
        channel_type=str(data.channel_type),
        name=data.name,
        is_notification_active=data.is_notification_active,
        **_new_delivery_fields(session, principal, data, allow_private),
    )
    session.add(setting)
    session.flush()
    targets_repository.make_due(session, principal.organization_id, target.id)
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
    setting = get_setting(session, principal, ref, data.channel_type, setting_id)
    changes = data.provided()
    _refuse_nulls(changes)
    new_target = changes.pop("target", None)
    if new_target is not None:
        _check_move(session, principal, new_target)
    changes = _changed_delivery_fields(session, principal, setting, changes, allow_private)
    bundled = channel_for(setting.channel_type).bundle_key(setting)
    _apply(setting, changes)
    if new_target is not None:
        setting.target_id = new_target
    session.flush()
    rebundled = channel_for(setting.channel_type).bundle_key(setting)
    if rebundled != bundled:  # a new address, or bundling switched: digests follow it
        repository.rekey_pending(session, setting, rebundled)
    targets_repository.make_due(session, principal.organization_id, setting.target_id)
    return setting


def delete_setting(
    session: Session,
    principal: Principal,
    ref: TargetRef,
    channel_type: ChannelType,
    setting_id: uuid.UUID,
) -> None:
    session.delete(get_setting(session, principal, ref, channel_type, setting_id))
    session.flush()


def _target(session: Session, principal: Principal, ref: TargetRef) -> Target:
    return get_target(session, principal, ref.workflow_id, ref.target_id)


def _new_delivery_fields(
    session: Session, principal: Principal, data: SettingCreate, allow_private: bool
) -> dict[str, Any]:
    channel = channel_for(data.channel_type)
    values = {name: getattr(data, name) for name in channel.setting_fields}
    checked = channel.check_setting(
        session, principal.organization_id, values, None, allow_private=allow_private
    )
    return as_attributes(channel, checked)


def _changed_delivery_fields(
    session: Session,
    principal: Principal,
    setting: NotificationSetting,
    changes: dict[str, Any],
    allow_private: bool,
) -> dict[str, Any]:
    channel = channel_for(setting.channel_type)
    sent = {name: changes.pop(name) for name in channel.setting_fields if name in changes}
    checked = channel.check_setting(
        session, principal.organization_id, sent, setting, allow_private=allow_private
    )
    return changes | as_attributes(channel, checked)


def _apply(setting: NotificationSetting, changes: dict[str, Any]) -> None:
    # An error the worker recorded is about the old delivery configuration.
    if any(
        getattr(setting, name) != changes[name] for name in _DELIVERY_ATTRIBUTES if name in changes
    ):
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
