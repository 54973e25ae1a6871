"""Events as the store receives them, and what storing a batch answers.

Engine-neutral: the API layer builds these, every engine stores them.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any


class EventSource(StrEnum):
    """Who sent an event (``events.source``): the path it was posted to, or a bulk load's
    default. The query language spells the same values as its ``Source`` literal."""

    UNTRUSTED = "untrusted"  # anyone: the browser snippet, no token
    TRUSTED = "trusted"  # a token of the organisation
    EXTERNAL = "external"  # loaded from a file


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event as stored; already validated by the API layer."""

    organization_id: uuid.UUID
    source: str  # EventSource
    timestamp: datetime  # aware, UTC
    received_at: datetime  # aware, UTC
    event_version: int
    vendor: str
    category: str
    action: str
    label: str
    value: float = 1.0
    id: uuid.UUID | None = None  # the client's id, for idempotent re-sends; stored as is
    properties: tuple[str, ...] = ()
    partner_organization_ids: tuple[str, ...] = ()
    dim1: str | None = None
    dim2: str | None = None
    dim3: str | None = None
    dim4: str | None = None
    dim5: str | None = None
    visitor_id: str | None = None
    session_id: str | None = None
    user_id: str | None = None
    browser_name: str | None = None
    browser_version: str | None = None
    device_screen_height: str | None = None
    device_screen_width: str | None = None
    device_type: str | None = None
    geo_city: str | None = None
    geo_country: str | None = None
    ip_organization: str | None = None
    os_name: str | None = None
    os_version: str | None = None
    organization_name: str | None = None


EventRow = Mapping[str, Any]
"""A :class:`StoredEvent` as a mapping, as the ingestion API validated it without building
objects: ``source`` and ``received_at`` are set, the other fields only where the client
gave them. Organisation and client ids are lowercase hyphenated UUID text, ``timestamp`` a
datetime (naive means UTC). What is missing is filled in as :class:`StoredEvent` does:
``timestamp`` is ``received_at``, ``value`` 1.0, lists empty, the rest null."""


@dataclass(frozen=True)
class InsertResult:
    stored: int
    duplicates: int


def stored_event(row: EventRow) -> StoredEvent:
    """An :data:`EventRow` as a :class:`StoredEvent`, its missing fields filled in."""
    fields = {name: value for name, value in row.items() if value is not None}
    fields["organization_id"] = uuid.UUID(str(fields["organization_id"]))
    if "id" in fields:
        fields["id"] = uuid.UUID(str(fields["id"]))
    timestamp = fields.get("timestamp", fields["received_at"])
    fields["timestamp"] = timestamp if timestamp.tzinfo else timestamp.replace(tzinfo=UTC)
    for name in ("properties", "partner_organization_ids"):
        fields[name] = tuple(fields.get(name, ()))
    return StoredEvent(**fields)
