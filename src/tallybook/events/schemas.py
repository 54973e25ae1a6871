"""Payloads of the event API: ingestion batches and fetch requests (DESIGN §4)."""

from __future__ import annotations

import math
import uuid
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator

from tallybook.events.query import EventQuery, Interval
from tallybook.kit.schemas import InputTimestamp

MAX_EVENTS_PER_BATCH = 10_000
Text = Annotated[str, Field(min_length=1, max_length=1000)]
OptionalText = Annotated[str | None, Field(default=None, max_length=1000)]
Label = Annotated[str, Field(max_length=2000)]


def _text_number(value: Any) -> Any:
    """Screen sizes arrive as numbers or strings; they are stored as text dimensions."""
    if isinstance(value, bool):
        raise ValueError("must be a string or a number")
    if isinstance(value, int | float) and math.isfinite(value):
        return str(int(value)) if float(value).is_integer() else str(value)
    return value


class IncomingEvent(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    event_version: StrictInt = Field(ge=1, le=2**31 - 1)
    vendor: Text
    category: Text
    action: Text
    label: Label
    organization_id: uuid.UUID
    source: str | None = Field(default=None, description="If given, must match the path.")
    id: uuid.UUID | None = Field(
        default=None, description="Client id: an event whose id is already stored is skipped."
    )
    timestamp: InputTimestamp | None = Field(
        default=None, description="Default: when received. At most 24 h in the future."
    )
    value: float = Field(default=1.0, allow_inf_nan=False)
    properties: list[Annotated[str, Field(max_length=1000)]] = Field(
        default_factory=list, max_length=200
    )
    partner_organization_ids: list[Annotated[str, Field(max_length=100)]] = Field(
        default_factory=list, max_length=200
    )
    dim1: OptionalText
    dim2: OptionalText
    dim3: OptionalText
    dim4: OptionalText
    dim5: OptionalText
    visitor_id: OptionalText
    session_id: OptionalText
    user_id: OptionalText
    browser_name: OptionalText
    browser_version: OptionalText
    device_screen_height: OptionalText
    device_screen_width: OptionalText
    device_type: OptionalText
    geo_city: OptionalText
    geo_country: OptionalText
    ip_organization: OptionalText
    os_name: OptionalText
    os_version: OptionalText
    organization_name: OptionalText

    @field_validator("device_screen_height", "device_screen_width", mode="before")
    @classmethod
    def _screen(cls, value: Any) -> Any:
        return _text_number(value)


class IngestBatch(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    events: list[IncomingEvent] = Field(min_length=1, max_length=MAX_EVENTS_PER_BATCH)


class IngestResult(BaseModel):
    stored: int
    duplicates: int


class FetchRequest(EventQuery):
    interval: Interval


class FetchField(BaseModel):
    name: str
    type: str


class FetchResponse(BaseModel):
    fields: list[FetchField]
    data: list[list[Any]]
