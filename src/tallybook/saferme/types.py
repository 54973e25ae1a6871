"""Named values of the v4 tables, as stored and as the API shows them.

The API's schemas spell the field types as a ``Literal`` (so the OpenAPI document keeps
them inline); a test checks that it matches :class:`FieldType`.
"""

from __future__ import annotations

from enum import StrEnum


class FieldType(StrEnum):
    """``v4_form_fields.field_type``: the types of SaferMe's forms (forms.md, reports.md,
    and ``Radio`` of the analytics seed)."""

    CATEGORY = "Category"
    CHECK_BOX = "CheckBox"
    DROP_DOWN = "DropDown"
    RADIO = "Radio"
    RADIO_BUTTON = "RadioButton"
    SHORT_TEXT_BOX = "ShortTextBox"
    LONG_TEXT_BOX = "LongTextBox"
    DESCRIPTION = "Description"
    DATE_AND_TIME = "DateAndTime"
    INTEGER_RANGE = "IntegerRange"
    BULLETED_LIST = "BulletedList"
    NUMBERED_LIST = "NumberedList"
    EXTERNAL_ATTENDEES = "ExternalAttendees"
    INTERNAL_ATTENDEES = "InternalAttendees"
    IMAGE = "Image"
    FILE_UPLOAD = "FileUpload"
    SIGNATURE = "Signature"
    SECTION_BREAK = "SectionBreak"
    FREE_TEXT = "FreeText"
    REPORT_STATE = "ReportState"
    REPORTER = "Reporter"
    REPORT_VIEWERS = "ReportViewers"
    RELATIVE_POSITION = "RelativePosition"


CHOICE_TYPES = frozenset(
    {
        FieldType.CATEGORY,
        FieldType.CHECK_BOX,
        FieldType.DROP_DOWN,
        FieldType.RADIO,
        FieldType.RADIO_BUTTON,
    }
)
"""Field types whose values are options of the field (``v4_field_options``); a report's
selections of them are rows of ``v4_report_selections``."""

ATTACHMENT_TYPES = frozenset({FieldType.IMAGE, FieldType.FILE_UPLOAD, FieldType.SIGNATURE})
"""Field types whose value is a list of file attachment ids."""

DISPLAY_TYPES = frozenset(
    {
        FieldType.SECTION_BREAK,
        FieldType.FREE_TEXT,
        FieldType.REPORT_STATE,
        FieldType.REPORTER,
        FieldType.REPORT_VIEWERS,
        FieldType.RELATIVE_POSITION,
    }
)
"""Field types a client does not fill in (layout, or shown from the report itself): their
value in a report is null."""


class Rendition(StrEnum):
    """The stored files of an image attachment; ``thumb`` and ``medium`` are made at upload."""

    ORIGINAL = "original"
    THUMB = "thumb"
    MEDIUM = "medium"


RENDITION_BOXES: dict[Rendition, tuple[int, int]] = {
    Rendition.THUMB: (100, 100),
    Rendition.MEDIUM: (600, 600),
}
"""The box each rendition fits in (aspect ratio kept, never enlarged)."""
