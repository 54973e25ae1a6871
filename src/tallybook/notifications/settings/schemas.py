from __future__ import annotations

import uuid
from typing import Annotated, ClassVar

from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, Field, StrictBool, StringConstraints

from tallybook.kit.schemas import InputModel, OutputModel, ReadOnly, Timestamp
from tallybook.notifications.channels.registry import ChannelType
from tallybook.notifications.channels.slack_modes import mask_secret


def _normalise_email(value: str) -> str:
    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValueError(str(exc)) from None


Name = Annotated[str, Field(max_length=255, description="Name for the notification setting.")]
SlackText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
SlackToken = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1024)]
OutboundUrl = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=2048),
    Field(description="An absolute https URL of a public host."),
]
Email = Annotated[
    str,
    StringConstraints(max_length=320),
    AfterValidator(_normalise_email),
    # What email-validator accepts has no JSON Schema; these are true of every such address.
    Field(
        json_schema_extra={"format": "email", "minLength": 3, "pattern": "^[^\\x00]*@[^\\x00]*$"}
    ),
]
Masked = Annotated[str, AfterValidator(mask_secret)]

_MOVE_HINT = "Moves the setting to another target of the organisation."


class _SettingReadOnly(InputModel):
    id: ReadOnly
    organization_id: ReadOnly
    last_notification_sent: ReadOnly
    last_error: ReadOnly


class SettingCreate(_SettingReadOnly):
    channel_type: ClassVar[ChannelType]

    target: uuid.UUID | None = Field(
        default=None, description="Optional; when given it must be the target in the path."
    )
    name: Name = ""
    is_notification_active: StrictBool = True


class SettingUpdate(_SettingReadOnly):
    """Partial: only the fields sent change; a null is refused where the field needs a value."""

    channel_type: ClassVar[ChannelType]

    target: uuid.UUID | None = Field(default=None, description=_MOVE_HINT)
    name: Name | None = None
    is_notification_active: StrictBool | None = None


class BarSettingCreate(SettingCreate):
    channel_type = ChannelType.BAR
    channel_id: uuid.UUID = Field(description="The UUID of a chat of the organisation.")


class BarSettingUpdate(SettingUpdate):
    channel_type = ChannelType.BAR
    channel_id: uuid.UUID | None = None


class SlackSettingCreate(SettingCreate):
    """Either token mode (`token`, `channel`, optional `user`) or webhook mode
    (`incoming_webhook_url`, optional `icon_url`)."""

    channel_type = ChannelType.SLACK
    token: SlackToken | None = None
    channel: SlackText | None = None
    user: SlackText | None = None
    icon_url: OutboundUrl | None = None
    incoming_webhook_url: OutboundUrl | None = None


class SlackSettingUpdate(SettingUpdate):
    """Fields of the current mode change one by one; sending the full set of the other mode
    switches mode. A masked secret sent back as it was returned leaves the secret unchanged."""

    channel_type = ChannelType.SLACK
    token: SlackToken | None = None
    channel: SlackText | None = None
    user: SlackText | None = None
    icon_url: OutboundUrl | None = None
    incoming_webhook_url: OutboundUrl | None = None


class EmailSettingCreate(SettingCreate):
    channel_type = ChannelType.EMAIL
    email: Email
    is_bundleable: StrictBool = False


class EmailSettingUpdate(SettingUpdate):
    channel_type = ChannelType.EMAIL
    email: Email | None = None
    is_bundleable: StrictBool | None = None


class _SettingOut(OutputModel):
    id: uuid.UUID
    target: uuid.UUID = Field(validation_alias="target_id")
    organization_id: uuid.UUID
    last_notification_sent: Timestamp | None
    name: str
    is_notification_active: bool


class BarSetting(_SettingOut):
    channel_id: uuid.UUID | None
    last_error: str | None = Field(description="The last delivery configuration error.")


class SlackSetting(_SettingOut):
    token: Masked | None = Field(description="Masked: `****` and the last four characters.")
    channel: str | None = Field(validation_alias="slack_channel")
    user: str | None
    icon_url: str | None
    incoming_webhook_url: Masked | None = Field(
        description="Masked: `****` and the last four characters."
    )
    last_error: str | None = Field(description="The last delivery configuration error.")


class EmailSetting(_SettingOut):
    email: str
    is_bundleable: bool
    last_error: str | None = Field(description="The last delivery configuration error.")


class NotificationSettings(OutputModel):
    bar: list[BarSetting]
    slack: list[SlackSetting]
    email: list[EmailSetting]
