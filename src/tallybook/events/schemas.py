"""Payloads of the event API: ingestion batches and fetch requests (DESIGN §4)."""

from __future__ import annotations

import math
import uuid
from datetime import datetime
from typing import Annotated, Any, Required

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    RootModel,
    Strict,
    StrictInt,
    TypeAdapter,
    field_validator,
    with_config,
)
from typing_extensions import TypedDict  # pydantic needs it on Python < 3.12

from tallybook.events.query.language import EventQuery, Interval
from tallybook.kit import instants
from tallybook.kit.schemas import InputTimestamp, NotBoolean, StorableText

MAX_EVENTS_PER_BATCH = 10_000
Text = Annotated[str, Field(min_length=1, max_length=1000)]
NullableText = Annotated[str, Field(max_length=1000)] | None
OptionalText = Annotated[NullableText, Field(default=None)]
Label = Annotated[str, Field(max_length=2000)]
Version = Annotated[StrictInt, Field(ge=1, le=2**31 - 1)]
Value = Annotated[float, NotBoolean, Field(allow_inf_nan=False)]
PlainValue = Annotated[float, Strict(), Field(allow_inf_nan=False)]
""":data:`Value` as the plain path takes it: a JSON number (a numeric string falls back)."""
PlainTimestamp = Annotated[datetime, Strict(), Field(ge=instants.EARLIEST, lt=instants.END)]
"""An event timestamp as the plain path takes it: ISO 8601 text in the supported range,
not yet in UTC (anything else falls back to :data:`InputTimestamp`, which owns the
errors)."""
Properties = Annotated[list[Annotated[str, Field(max_length=1000)]], Field(max_length=200)]
PartnerIds = Annotated[list[Annotated[str, Field(max_length=100)]], Field(max_length=200)]
CanonicalUuid = Annotated[
    str, Field(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
]
"""A UUID in its usual form (lowercase, hyphens): text that ``uuid.UUID`` reads unchanged."""


def _text_number(value: Any) -> Any:
    """Screen sizes arrive as numbers or strings; they are stored as text dimensions."""
    if isinstance(value, bool):
        raise ValueError("must be a string or a number")
    if isinstance(value, int | float) and math.isfinite(value):
        return str(int(value)) if float(value).is_integer() else str(value)
    return value


ScreenSize = Annotated[NullableText, BeforeValidator(_text_number)]


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
        return _text_number(value)


class IngestBatch(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    events: list[IncomingEvent] = Field(min_length=1, max_length=MAX_EVENTS_PER_BATCH)


@with_config(ConfigDict(extra="forbid"))
class PlainEvent(TypedDict, total=False):
    """:class:`IncomingEvent` as a plain dict, for the common case, checked without building
    objects: ids as :data:`CanonicalUuid` text and timestamps not yet in UTC. A batch that
    passes is one :class:`IngestBatch` accepts with the same values (the tests compare the
    two); anything else, such as an uppercase UUID, goes through :class:`IngestBatch`.
    It has no NUL check of its own: a body with an escaped NUL never reaches it
    (``service.parse_plain_batch``), and JSON cannot hold an unpaired surrogate."""

    event_version: Required[Version]
    vendor: Required[Text]
    category: Required[Text]
    action: Required[Text]
    label: Required[Label]
    organization_id: Required[CanonicalUuid]
    source: str | None
    id: CanonicalUuid | None
    timestamp: PlainTimestamp | None
    value: PlainValue
    properties: Properties
    partner_organization_ids: PartnerIds
    dim1: NullableText
    dim2: NullableText
    dim3: NullableText
    dim4: NullableText
    dim5: NullableText
    visitor_id: NullableText
    session_id: NullableText
    user_id: NullableText
    browser_name: NullableText
    browser_version: NullableText
    device_screen_height: ScreenSize
    device_screen_width: ScreenSize
    device_type: NullableText
    geo_city: NullableText
    geo_country: NullableText
    ip_organization: NullableText
    os_name: NullableText
    os_version: NullableText
    organization_name: NullableText


@with_config(ConfigDict(extra="forbid"))
class PlainBody(TypedDict):
    events: Annotated[list[PlainEvent], Field(min_length=1, max_length=MAX_EVENTS_PER_BATCH)]


PLAIN_BODY: TypeAdapter[PlainBody] = TypeAdapter(PlainBody)


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
