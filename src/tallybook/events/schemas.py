"""Payloads of the event API: ingestion batches and fetch requests (DESIGN §4)."""

from __future__ import annotations

import math
import sys
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Final

import msgspec
from msgspec import UNSET, Meta, UnsetType
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    RootModel,
    StrictInt,
    ValidationInfo,
    field_validator,
)

from tallybook.events.query.language import EventQuery, Interval
from tallybook.kit.schemas import InputTimestamp, NotBoolean, StorableText

MAX_EVENTS_PER_BATCH = 10_000
Text = Annotated[str, Field(min_length=1, max_length=1000)]
NullableText = Annotated[str, Field(max_length=1000)] | None
OptionalText = Annotated[NullableText, Field(default=None)]
Label = Annotated[str, Field(max_length=2000)]
Version = Annotated[StrictInt, Field(ge=1, le=2**31 - 1)]
Value = Annotated[float, NotBoolean, Field(allow_inf_nan=False)]
Properties = Annotated[list[Annotated[str, Field(max_length=1000)]], Field(max_length=200)]
PartnerIds = Annotated[list[Annotated[str, Field(max_length=100)]], Field(max_length=200)]


def text_number(value: Any) -> Any:
    """Screen sizes arrive as numbers or strings; they are stored as text dimensions."""
    if isinstance(value, bool):
        raise ValueError("must be a string or a number")
    if isinstance(value, int | float) and math.isfinite(value):
        return str(int(value)) if float(value).is_integer() else str(value)
    return value


class IncomingEvent(StorableText):
    """One event of a batch; text with a NUL character (or an unpaired surrogate) is 400,
    named by field, as in every other payload."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_version: Version
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
    value: Value = 1.0
    properties: Properties = Field(default_factory=list)
    partner_organization_ids: PartnerIds = Field(default_factory=list)
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
        return text_number(value)

    @field_validator("source")
    @classmethod
    def _the_paths(cls, value: str | None, info: ValidationInfo) -> str | None:
        """The path's source, when the batch is validated for one (``BatchContext``)."""
        context: BatchContext | None = info.context
        if value is not None and context is not None and value != context.source:
            raise ValueError(f"must be '{context.source}' on this path.")
        return value

    @field_validator("timestamp")
    @classmethod
    def _not_far_ahead(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        context: BatchContext | None = info.context
        if value is not None and context is not None and value > context.latest:
            raise ValueError("is more than 24 hours in the future.")
        return value


@dataclass(frozen=True)
class BatchContext:
    """What a batch is checked against beside its own fields, so that every bad event is
    listed in one 400: the path's ``source`` and the ``latest`` timestamp allowed."""

    source: str
    latest: datetime


class IngestBatch(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    events: list[IncomingEvent] = Field(min_length=1, max_length=MAX_EVENTS_PER_BATCH)


CANONICAL_UUID: Final = r"\A[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z"
"""A UUID in its usual form (lowercase, hyphens): text that ``uuid.UUID`` reads unchanged."""
_Uuid = Annotated[str, Meta(pattern=CANONICAL_UUID)]
_Text = Annotated[str, Meta(min_length=1, max_length=1000)]
_Nullable = Annotated[str, Meta(max_length=1000)] | UnsetType | None
_Finite = Annotated[float, Meta(ge=-sys.float_info.max, le=sys.float_info.max)]


class PlainEvent(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True, kw_only=True):
    """:class:`IncomingEvent` for the common case, checked by msgspec straight from the
    body's bytes, without Pydantic: ids as :data:`CANONICAL_UUID` text, timestamps as
    RFC 3339 text not yet in UTC, values as JSON numbers. A field left out stays
    ``UNSET`` (and out of the dict ``msgspec.to_builtins`` makes of the event).

    A batch that passes, with the checks ``service.parse_plain_batch`` adds (the supported
    range, the future limit, screen sizes as text), is one :class:`IngestBatch` accepts
    with the same values (the tests compare the two); anything else goes through
    :class:`IngestBatch`, which owns the errors. Not checked here, so declined by the
    service before decoding: an escaped NUL, and timestamps with more than 6 fractional
    digits (msgspec rounds them, Pydantic drops the rest). msgspec refuses an unpaired
    surrogate by itself.
    """

    event_version: Annotated[int, Meta(ge=1, le=2**31 - 1)]
    vendor: _Text
    category: _Text
    action: _Text
    label: Annotated[str, Meta(max_length=2000)]
    organization_id: _Uuid
    source: str | UnsetType | None = UNSET
    id: _Uuid | UnsetType | None = UNSET
    timestamp: datetime | UnsetType | None = UNSET
    value: _Finite | UnsetType = UNSET
    properties: (
        Annotated[list[Annotated[str, Meta(max_length=1000)]], Meta(max_length=200)] | UnsetType
    ) = UNSET
    partner_organization_ids: (
        Annotated[list[Annotated[str, Meta(max_length=100)]], Meta(max_length=200)] | UnsetType
    ) = UNSET
    dim1: _Nullable = UNSET
    dim2: _Nullable = UNSET
    dim3: _Nullable = UNSET
    dim4: _Nullable = UNSET
    dim5: _Nullable = UNSET
    visitor_id: _Nullable = UNSET
    session_id: _Nullable = UNSET
    user_id: _Nullable = UNSET
    browser_name: _Nullable = UNSET
    browser_version: _Nullable = UNSET
    device_screen_height: int | _Finite | _Nullable = UNSET  # a number becomes text
    device_screen_width: int | _Finite | _Nullable = UNSET
    device_type: _Nullable = UNSET
    geo_city: _Nullable = UNSET
    geo_country: _Nullable = UNSET
    ip_organization: _Nullable = UNSET
    os_name: _Nullable = UNSET
    os_version: _Nullable = UNSET
    organization_name: _Nullable = UNSET


class PlainBody(msgspec.Struct, forbid_unknown_fields=True):
    events: Annotated[list[PlainEvent], Meta(min_length=1, max_length=MAX_EVENTS_PER_BATCH)]


PLAIN_BODY: Final = msgspec.json.Decoder(PlainBody)
SCREEN_SIZES: Final = ("device_screen_height", "device_screen_width")


class IngestBody(RootModel[IngestBatch | IncomingEvent]):
    """What ``/events/v2/store/{source}`` takes: a batch, or one event object. Documentation
    only: ``service.ingest`` reads the raw body itself."""


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
