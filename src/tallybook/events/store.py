"""The event store: one interface, an engine per ``TALLYBOOK_EVENTS_URL``.

The API layer validates events and queries; an engine stores and answers them. Every read
is confined to the organisation given as an argument, inside the SQL itself. Engines live
in :mod:`tallybook.events.engines`, chosen by the URL's scheme.
"""

from __future__ import annotations

import uuid
from collections.abc import Generator, Iterator, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from tallybook.events.engines.registry import open_engine

if TYPE_CHECKING:
    from tallybook.events.query.cells import CsvCell
    from tallybook.events.query.language import EventQuery, Interval
    from tallybook.events.query.render import RelationPlan
    from tallybook.events.query.results import DataRow, FetchResult
    from tallybook.events.records import EventRow, InsertResult, StoredEvent
    from tallybook.settings import Settings


class EventStore(Protocol):
    """What the API, the worker and the CLI ask of the event store (every engine's
    :class:`~tallybook.events.engines.runner.QueryRunner` answers it)."""

    def insert(self, events: Sequence[StoredEvent]) -> InsertResult:
        """Store a batch atomically (all or none) and durably (it survives a kill -9 once
        this returns). An event whose ``id`` its organisation already stored, or that
        repeats an earlier event's ``id`` in the batch, is skipped as a duplicate."""
        ...

    def insert_plain(self, events: Sequence[EventRow]) -> InsertResult:
        """:meth:`insert`, with the same guarantees, for events as mappings."""
        ...

    def check_query(self, query: EventQuery) -> None:
        """400 for a valid query this store cannot run (a regex pattern RE2 refuses). The
        queries below check theirs; a query stored to run later (a target's) is checked
        when it is stored."""
        ...

    def fetch(
        self, organization_id: uuid.UUID, query: EventQuery, interval: Interval, time_zone: str
    ) -> FetchResult: ...

    def stream(
        self,
        organization_id: uuid.UUID,
        query: EventQuery,
        interval: Interval,
        time_zone: str,
        *,
        batch_rows: int = ...,
    ) -> Iterator[list[DataRow]]:
        """:meth:`fetch`'s rows in batches."""
        ...

    def relation_rows(self, plan: RelationPlan) -> list[tuple[Any, ...]]:
        """Every row of a plan another domain built over the event table (the plan scopes
        itself to an organisation), in the engine's Python types."""
        ...

    def relation_batches(
        self, plan: RelationPlan, *, batch_rows: int = ...
    ) -> Iterator[list[tuple[Any, ...]]]:
        """:meth:`relation_rows` in batches, never holding the whole answer; rendering
        errors are raised by this call, before any batch."""
        ...

    def relation_csv(
        self, plan: RelationPlan, cells: Sequence[CsvCell], *, chunk_size: int = ...
    ) -> Generator[bytes, None, int]:
        """:meth:`relation_batches` as CSV lines without a header, each column shown as
        its cell says (``query.cells``), in chunks of about ``chunk_size`` bytes; returns
        the number of rows. Byte for byte what ``kit.tabular``'s CSV writer makes of the
        rows, whether the engine writes them itself or Python does."""
        ...

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

    def execute_batches(
        self, sql: str, params: Mapping[str, Any], size: int
    ) -> Iterator[list[tuple[Any, ...]]]:
        """A read statement of the engine's dialect, its rows in lists of at most ``size``
        (never held whole). Only for statements of the whole store, such as the bulk
        export's: the API's queries go through the plans above, scoped to an organisation."""
        ...

    def ping(self) -> None: ...

    def close(self) -> None: ...


def open_event_store(settings: Settings) -> EventStore:
    return open_engine(settings.events_url, settings)
