from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from pydantic import Field, StrictBool

from tallybook.kit.schemas import InputModel, InputTimestamp, OutputModel, ReadOnly, Timestamp
from tallybook.saferme.ids import IntId
from tallybook.saferme.schemas import LongText

MAX_FORM_FIELDS = 500


class FormFieldValue(InputModel):
    key: Annotated[str, Field(min_length=1, max_length=100)]
    value: Any = None


class _ReportReadOnly(InputModel):
    id: ReadOnly
    user_id: ReadOnly
    account_uuid: ReadOnly
    account_name: ReadOnly
    appearance: ReadOnly
    category_id: ReadOnly
    description: ReadOnly
    location: ReadOnly
    title: ReadOnly
    iso_created_at: ReadOnly
    updated_at: ReadOnly


class ReportCreate(_ReportReadOnly):
    uuid: UUID | None = Field(default=None, description="The client's id; new in the team.")
    account_id: IntId | UUID = Field(description="The channel, by id or uuid.")
    report_state_id: IntId | None = Field(
        default=None, description="A state of the channel; default its first by position."
    )
    geom: Annotated[str, Field(max_length=200)] | None = Field(
        default=None, description="WKT point `Point(<longitude> <latitude>)`."
    )
    address: LongText | None = None
    is_anonymous: StrictBool = False
    shape_id: int | None = Field(default=None, description="Accepted and not stored.")
    form_fields: list[FormFieldValue] = Field(default_factory=list, max_length=MAX_FORM_FIELDS)
    created_at: InputTimestamp | None = Field(
        default=None, description="For importing history; default now."
    )


class ReportCreateBody(InputModel):
    report: ReportCreate


class ReportUpdate(_ReportReadOnly):
    uuid: ReadOnly
    account_id: ReadOnly
    created_at: ReadOnly
    report_state_id: IntId | None = None
    geom: Annotated[str, Field(max_length=200)] | None = None
    address: LongText | None = None
    shape_id: int | None = None
    form_fields: list[FormFieldValue] | None = Field(default=None, max_length=MAX_FORM_FIELDS)


class ReportUpdateBody(InputModel):
    report: ReportUpdate


class Location(OutputModel):
    latitude: float
    longitude: float


class ReportFormField(OutputModel):
    id: int
    label: str
    key: str
    field_type: str
    form_order: int
    data: dict[str, Any]
    mandatory: bool
    visibility: str = "public"
    field_visibility: str = "public"
    value: Any
    editable: StrictBool = True


class ReportSummary(OutputModel):
    """reports.md's default fields (and ``created_at``, ``report_state_name``)."""

    id: int
    uuid: UUID
    account_id: int
    account_uuid: UUID
    account_name: str
    address: str | None
    appearance: str = "normal"
    category_id: int | None = None
    description: str | None = None
    is_anonymous: bool
    location: Location | None
    report_state_id: int | None
    report_state_name: str | None
    shape_id: int | None = None
    title: str
    user_id: int | None
    iso_created_at: Timestamp
    created_at: Timestamp
    updated_at: Timestamp


class Report(ReportSummary):
    form_fields: list[ReportFormField]


class ReadCreate(InputModel):
    created_at: InputTimestamp | None = Field(
        default=None, description="For importing history; default now."
    )
    id: ReadOnly
    report_id: ReadOnly
    user_id: ReadOnly


class ReadCreateBody(InputModel):
    report_read: ReadCreate


class ReportRead(OutputModel):
    id: int
    report_id: int
    account_id: int
    user_id: int
    created_at: Timestamp
