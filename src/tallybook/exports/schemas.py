from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, StrictBool, ValidationInfo, field_validator

from tallybook.exports.types import FORMATS, ExportType
from tallybook.kit.schemas import InputTimestamp, OutputModel, ReadOnly, ResourceReadOnly, Timestamp

ExportTypeName = Literal["logs", "stats"]
ExportFormatName = Literal["csv", "xlsx", "txt"]

MessageCount = Annotated[int, Field(strict=True, ge=0, le=2_147_483_647)]
LOGS_ONLY = "is only for exports of type logs"


class ReportExportCreate(ResourceReadOnly):
    """What a client sends to start an export (the seed's required and optional fields).

    The fields are declared in the order their rules need: ``format`` is checked against
    ``type``, ``ending_at`` against ``starting_at``.
    """

    type: ExportTypeName = Field(description="`logs` (chats and messages) or `stats` (daily).")
    format: ExportFormatName = Field(description="`logs`: csv, xlsx or txt; `stats`: csv or xlsx.")
    room_id: uuid.UUID = Field(description="A room of the organisation.")
    starting_at: InputTimestamp = Field(description="Start of the time range (inclusive).")
    ending_at: InputTimestamp = Field(description="End of the time range (exclusive).")
    is_real_conversation: StrictBool | None = Field(
        default=None,
        description="`logs` only: true, only real conversations; false, only the others; "
        "null (default), all.",
    )
    min_message_count: MessageCount | None = Field(
        default=None,
        description="`logs` only: the fewest messages (type `msg`) a chat needs to be "
        "included; default 0.",
    )
    created_by_user_id: ReadOnly
    completed_at: ReadOnly
    expires_at: ReadOnly
    is_failed: ReadOnly
    url: ReadOnly
    error: ReadOnly

    @field_validator("format")
    @classmethod
    def _fits_type(cls, value: str, info: ValidationInfo) -> str:
        kind = info.data.get("type")
        if kind is not None:
            allowed = sorted(FORMATS[ExportType(kind)])
            if value not in allowed:
                raise ValueError(f"must be {' or '.join(allowed)} for an export of type {kind}")
        return value

    @field_validator("ending_at")
    @classmethod
    def _after_start(cls, value: datetime, info: ValidationInfo) -> datetime:
        start = info.data.get("starting_at")
        if start is not None and value <= start:
            raise ValueError("must be after starting_at")
        return value

    @field_validator("is_real_conversation", "min_message_count")
    @classmethod
    def _logs_only(cls, value: Any, info: ValidationInfo) -> Any:
        if value is not None and info.data.get("type") == ExportType.STATS:
            raise ValueError(LOGS_ONLY)
        return value


class ReportExport(OutputModel):
    id: uuid.UUID
    starting_at: Timestamp
    ending_at: Timestamp
    room_id: uuid.UUID
    type: ExportTypeName
    format: ExportFormatName
    is_real_conversation: bool | None
    min_message_count: int | None = Field(description="0 unless given; null for `stats`.")
    created_at: Timestamp
    created_by_user_id: uuid.UUID
    updated_at: Timestamp
    completed_at: Timestamp | None = Field(
        description="When the export completed or failed; null while in progress."
    )
    expires_at: Timestamp | None = Field(
        description="After this the file cannot be downloaded; null in progress or failed."
    )
    is_failed: bool | None = Field(description="null while in progress.")
    url: str | None = Field(
        description="Absolute, signed download link; null unless completed and not expired. "
        "It needs no token."
    )
    error: str | None = Field(description="Why a failed export failed (extension).")
