from __future__ import annotations

from typing import Any
from uuid import UUID

from pydantic import Field

from tallybook.kit.schemas import InputModel, OutputModel, ReadOnly, Timestamp
from tallybook.saferme.ids import IntId
from tallybook.saferme.schemas import LongText, Name, NotNull


class ChannelCreate(InputModel):
    name: Name
    description: LongText | None = None
    form_id: IntId | None = Field(default=None, description="A form of the team.")
    id: ReadOnly
    uuid: ReadOnly
    team_id: ReadOnly
    reports_count: ReadOnly
    created_at: ReadOnly
    updated_at: ReadOnly


class ChannelCreateBody(InputModel):
    channel: ChannelCreate


class ChannelUpdate(InputModel):
    name: Name | NotNull = None
    description: LongText | None = None
    form_id: IntId | None = None
    id: ReadOnly
    uuid: ReadOnly
    team_id: ReadOnly
    reports_count: ReadOnly
    created_at: ReadOnly
    updated_at: ReadOnly


class ChannelUpdateBody(InputModel):
    channel: ChannelUpdate


class Logo(OutputModel):
    mini: str | None = None
    small: str | None = None
    medium: str | None = None
    large: str | None = None
    huge: str | None = None


class Channel(OutputModel):
    """SaferMe's channel shape; what Tallybook does not model has SaferMe's default."""

    id: int
    uuid: UUID
    name: str
    description: str | None
    form_id: int | None
    team_id: int
    reports_count: int
    additional_fields: list[Any] = []
    allow_public_comments: bool = False
    allow_public_viewers: bool = False
    allow_user_delete_own_reports: bool = False
    are_new_reports_anonymous: bool = False
    banners_enabled: bool = False
    category_id: int | None = None
    form_locked: bool = False
    hazard_channel: bool = False
    is_addon_channel: bool = False
    is_manageable_by: bool
    is_operable_by: bool
    is_reportable_by: bool = True
    logo: Logo = Logo()
    moderated: bool = False
    risk_controls_editability: str = "admins_only"
    slug: str
    standard_channel: bool = False
    created_at: Timestamp
    updated_at: Timestamp


class ReportStateCreate(InputModel):
    account_id: IntId = Field(description="The channel the state belongs to.")
    name: Name
    position: int = Field(default=0, ge=0, le=1_000_000)
    id: ReadOnly
    updated_at: ReadOnly


class ReportStateCreateBody(InputModel):
    report_state: ReportStateCreate


class ReportState(OutputModel):
    """report_states.md's shape; the workflow settings SaferMe has are its defaults."""

    id: int
    account_id: int
    name: str
    position: int
    assign_to_supervisor: bool = False
    assignable: bool = False
    assignment_due_timeout: int = 0
    auto_archive: bool = False
    default_assignee_id: int | None = None
    editability: str = "admins_only"
    loudness: str = "normal"
    notify: str = "all"
    timeout: int = 0
    visibility: str = "everyone"
    updated_at: Timestamp
