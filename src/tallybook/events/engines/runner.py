"""The one way a query becomes rows, shared by every engine.

plan → render → execute → typed rows: :class:`QueryRunner` builds the typed plan, renders
it in the engine's dialect, hands the SQL and its named parameters to the engine's
:meth:`~QueryRunner.execute`, and turns what comes back into the API's rows. An engine
subclasses it and supplies the primitives of :class:`~tallybook.events.engines.base.Engine`;
everything else has a working default here that an engine may override where it can do
better (``execute_batches`` with a cursor, ``insert_plain`` without building objects).
"""

from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from collections.abc import Generator, Iterator, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Final

from tallybook.events.query.cells import CsvCell, file_rows
from tallybook.events.query.dialects import Dialect
from tallybook.events.query.language import EventQuery, Interval
from tallybook.events.query.plan import FetchPlan
from tallybook.events.query.render import (
    RelationPlan,
    render_fetch,
    render_relation,
    render_value,
)
from tallybook.events.query.results import DataRow, FetchResult
from tallybook.events.records import EventRow, InsertResult, StoredEvent, stored_event
from tallybook.kit.tabular import CHUNK_SIZE, csv_rows
from tallybook.kit.tabular.cells import close_rows

if TYPE_CHECKING:
    from tallybook.events.engines.base import Engine

STREAM_BATCH_ROWS: Final = 10_000


class QueryRunner(ABC):
    """An event store: an engine's primitives plus the shared query path."""

    dialect: Dialect
    """The engine's rendering; a class attribute, which a store may replace with one of its
    own when it finds what its server supports (ClickHouse's materialized CTEs)."""
    typed_rows: ClassVar[bool] = False
    """Whether :meth:`execute` already returns counts as int and other metrics as float."""

    # -- what an engine supplies ------------------------------------------------------------

    @abstractmethod
    def execute(self, sql: str, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Run one read statement with parameters bound by name; all its rows."""

    @abstractmethod
    def insert(self, events: Sequence[StoredEvent]) -> InsertResult:
        """Store a batch atomically and durably, skipping repeated client ids."""

    @abstractmethod
    def ping(self) -> None: ...

    @abstractmethod
    def close(self) -> None: ...

    # -- what an engine may do better -------------------------------------------------------

    def execute_batches(
        self, sql: str, params: Mapping[str, Any], size: int
    ) -> Iterator[list[tuple[Any, ...]]]:
        """:meth:`execute`'s rows in lists of at most ``size``; an engine with cursors
        overrides this so a large answer is never held whole."""
        rows = self.execute(sql, params)
        for first in range(0, len(rows), size):
            yield rows[first : first + size]

    def check_query(self, query: EventQuery) -> None:
        """Refuse, with an API error, a valid query this engine cannot run."""
        del query  # by default an engine runs every valid query

    def insert_plain(self, events: Sequence[EventRow]) -> InsertResult:
        """:meth:`insert`, with the same guarantees, for events as mappings."""
        return self.insert([stored_event(row) for row in events])

    # -- the shared query path --------------------------------------------------------------

    def fetch(
        self, organization_id: uuid.UUID, query: EventQuery, interval: Interval, time_zone: str
    ) -> FetchResult:
        plan = FetchPlan.build(organization_id, query, interval.start, interval.end, time_zone)
        rendered = render_fetch(plan, self.dialect)
        self.check_query(query)
        return plan.result(self.execute(rendered.sql, rendered.params), typed=self.typed_rows)

    def stream(
        self,
        organization_id: uuid.UUID,
        query: EventQuery,
        interval: Interval,
        time_zone: str,
        *,
        batch_rows: int = STREAM_BATCH_ROWS,
    ) -> Iterator[list[DataRow]]:
        """:meth:`fetch`'s rows (its ``fields`` are ``FetchPlan.fields()``) in batches of
        at most ``batch_rows``, for answers too large to hold at once."""
        if batch_rows < 1:
            raise ValueError("batch_rows must be at least 1")
        plan = FetchPlan.build(organization_id, query, interval.start, interval.end, time_zone)
        rendered = render_fetch(plan, self.dialect)
        self.check_query(query)
        for rows in self.execute_batches(rendered.sql, rendered.params, batch_rows):
            yield plan.data(rows, typed=self.typed_rows)

    def relation_rows(self, plan: RelationPlan) -> list[tuple[Any, ...]]:
        """All rows of another domain's plan, as the engine returns them."""
        rendered = render_relation(plan, self.dialect)
        return self.execute(rendered.sql, rendered.params)

    def relation_batches(
        self, plan: RelationPlan, *, batch_rows: int = STREAM_BATCH_ROWS
    ) -> Iterator[list[tuple[Any, ...]]]:
        """:meth:`relation_rows` in batches of at most ``batch_rows``; the plan is rendered
        before the first batch is asked for, and the engine's cursor holds the rest."""
        if batch_rows < 1:
            raise ValueError("batch_rows must be at least 1")
        rendered = render_relation(plan, self.dialect)
        return self.execute_batches(rendered.sql, rendered.params, batch_rows)

    def relation_csv(
        self, plan: RelationPlan, cells: Sequence[CsvCell], *, chunk_size: int = CHUNK_SIZE
    ) -> Generator[bytes, None, int]:
        """The plan's rows as CSV lines (no header) in chunks of about ``chunk_size``
        bytes, each row's columns shown as ``cells`` say; returns the number of rows. The
        bytes are ``kit.tabular.csv_rows``'s of the rows as ``query.cells.file_rows``
        shows them, whoever writes them: here, Python, batch by batch from the cursor; an
        engine that can write CSV itself overrides this."""
        batches = self.relation_batches(plan)
        rows = (row for batch in batches for row in file_rows(cells, batch))
        try:
            return (yield from csv_rows(rows, len(cells), chunk_size=chunk_size))
        finally:
            close_rows(batches)

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
        rendered = render_value(organization_id, query, start, end, field, self.dialect)
        self.check_query(query)
        count, result = self.execute(rendered.sql, rendered.params)[0]
        if not count or result is None:
            return None
        return float(result)


if TYPE_CHECKING:

    def _supplies_the_engine_primitives(runner: QueryRunner) -> Engine:
        return runner  # mypy checks that a runner is an Engine
