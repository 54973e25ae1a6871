"""The event store: one interface, an engine per ``TALLYBOOK_EVENTS_URL``.

The API layer validates events and queries; an engine stores and answers them. Every read
is confined to the organisation given as an argument, inside the SQL itself.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from tallybook.events.query import EventQuery, Interval
    from tallybook.settings import Settings

DUCKDB_PREFIX = "duckdb:///"  # SQLAlchemy style: duckdb:///relative.duckdb, duckdb:////abs.duckdb
DEFAULT_DUCKDB_FILE = "events.duckdb"


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event as stored; already validated by the API layer."""

    organization_id: uuid.UUID
    source: str  # untrusted | trusted | external
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


@dataclass(frozen=True)
class FetchResult:
    fields: list[dict[str, str]]
    data: list[list[Any]]


class EventStore(Protocol):
    def insert(self, events: Sequence[StoredEvent]) -> InsertResult:
        """Store a batch atomically (all or none) and durably (it survives a kill -9 once
        this returns). An event whose ``id`` its organisation already stored, or that
        repeats an earlier event's ``id`` in the batch, is skipped as a duplicate."""
        ...

    def insert_plain(self, events: Sequence[EventRow]) -> InsertResult:
        """:meth:`insert`, with the same guarantees, for events as mappings."""
        ...

    def fetch(
        self, organization_id: uuid.UUID, query: EventQuery, interval: Interval, time_zone: str
    ) -> FetchResult: ...

    def value(
        self,
        organization_id: uuid.UUID,
        query: EventQuery,
        start: datetime,
        end: datetime,
        field: str,
    ) -> float | None:
        """One aggregation over ``[start, end)`` ignoring granularity and group_by; None when
        no event matches."""
        ...

    def ping(self) -> None: ...

    def close(self) -> None: ...


def open_event_store(settings: Settings) -> EventStore:
    from tallybook.events.duckdb_store import DuckDBEventStore

    url = settings.events_url
    if url is None:
        settings.ensure_data_dir()
        return DuckDBEventStore(settings.data_dir / DEFAULT_DUCKDB_FILE)
    if url.startswith(DUCKDB_PREFIX) and url != DUCKDB_PREFIX:
        return DuckDBEventStore(Path(url.removeprefix(DUCKDB_PREFIX)))
    raise ValueError(
        "TALLYBOOK_EVENTS_URL must be unset (a DuckDB file in the data directory) or "
        "'duckdb:///<path to a file>' (four slashes for an absolute path); this version "
        f"has no other event store engine ({_scheme(url)})."
    )


def _scheme(url: str) -> str:
    scheme = url.split("://", 1)[0] if "://" in url else ""
    return f"got scheme '{scheme}'" if scheme else "got no scheme"
