from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import Field, StrictBool

from tallybook.kit.schemas import InputModel, OutputModel, ReadOnly, Timestamp
from tallybook.saferme.schemas import Name

FieldTypeName = Literal[
    "Category",
    "CheckBox",
    "DropDown",
    "Radio",
    "RadioButton",
    "ShortTextBox",
    "LongTextBox",
    "Description",
    "DateAndTime",
    "IntegerRange",
    "BulletedList",
    "NumberedList",
    "ExternalAttendees",
    "InternalAttendees",
    "Image",
    "FileUpload",
    "Signature",
    "SectionBreak",
    "FreeText",
    "ReportState",
    "Reporter",
    "ReportViewers",
    "RelativePosition",
]
"""The values of ``types.FieldType`` (a test holds the two together)."""

MAX_FIELDS = 200
MAX_OPTIONS = 200


class OptionCreate(InputModel):
    label: Name
    enabled: StrictBool = True
    is_default: StrictBool = False
    value: ReadOnly
    display_order: ReadOnly
    multi_option_id: ReadOnly


class FieldData(InputModel):
    multi_select: StrictBool | None = Field(
        default=None, description="CheckBox: default true; DropDown: default false."
    )
    options: list[OptionCreate] | None = Field(default=None, max_length=MAX_OPTIONS)


class FieldCreate(InputModel):
    label: Annotated[str, Field(min_length=1, max_length=2000)]
    field_type: FieldTypeName
    mandatory: StrictBool | None = None
    data: FieldData | None = None
    id: ReadOnly
    key: ReadOnly
    form_order: ReadOnly


class FormCreate(InputModel):
    name: Name
    fields: list[FieldCreate] = Field(default_factory=list, max_length=MAX_FIELDS)
    id: ReadOnly
    uuid: ReadOnly
    team_id: ReadOnly
    version: ReadOnly
    updated_at: ReadOnly


class FormCreateBody(InputModel):
    form: FormCreate


class FormFieldOut(OutputModel):
    id: int
    label: str
    key: str
    field_type: str
    form_order: int
    data: str = Field(description="SaferMe's JSON text: multi_select and options for choices.")
    mandatory: bool
    visibility: str = "public"
    field_visibility: str = "public"
    value: Any = None
    editable: StrictBool = True
    is_summary: StrictBool = False


class Form(OutputModel):
    id: int
    uuid: UUID
    name: str
    team_id: int
    version: int
    updated_at: Timestamp
    fields: list[FormFieldOut]
