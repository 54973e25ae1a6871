"""Workflow reporting: payload checks, the workflow, the plan, and the rows from the store.

Everything that can refuse a request (406, 400, 404) happens in :func:`parse_request` and
:func:`plan_step_rows` / :func:`plan_source_rows`, before the store runs anything; the
first batch of rows is fetched before the answer starts (:func:`open_rows`), so a failing
query is still a clean 500 and not a cut-off body.
"""

from __future__ import annotations

import re
from collections.abc import Generator, Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Final, TypeVar

from sqlalchemy.orm import Session

from tallybook.auth.principal import Principal
from tallybook.events.query.cells import CsvCell
from tallybook.events.store import EventStore
from tallybook.funnels.charts import (
    ChartEvents,
    ChartPlan,
    chart_links,
    chart_steps,
)
from tallybook.funnels.fields import RAW_FIELDS, RowShape, columns_for, event_columns
from tallybook.funnels.paths import StepPath, WorkflowScope
from tallybook.funnels.plans import SourceRowsPlan
from tallybook.funnels.schemas import (
    ChartRequest,
    StepDownloadRequest,
    StepSourceRequest,
    WorkflowSourceDownloadRequest,
    WorkflowSourceRequest,
)
from tallybook.funnels.types import Rows, SourceTarget, StepTarget
from tallybook.kit.body import validate_body
from tallybook.kit.errors import NotAcceptable, NotFound
from tallybook.kit.ids import parse_id
from tallybook.kit.tabular import csv_line
from tallybook.kit.tabular.cells import close_rows
from tallybook.workflows.models import Workflow
from tallybook.workflows.service import get_workflow
from tallybook.workflows.types import WorkflowType

STEP_INDEX: Final = re.compile(r"[0-9]{1,9}")
BATCH_ROWS: Final = 5_000
FIRST_ROWS: Final = 10_000
"""A ``limit`` up to this many rows is looked for in the interval's beginning first."""
PREFIXES: Final = (1 / 64, 1 / 16, 1 / 4)
"""The shares of the interval tried, in turn, before the whole of it."""
SLICES: Final = 16
"""A longer answer is read in this many consecutive slices of the interval."""
SLICE_ROWS: Final = 16_384
"""A CSV answer is read in slices of about this many rows (:func:`_csv_lines`)."""
FIRST_SLICE: Final = 1 / 256
"""The share of the interval a CSV answer's first slice covers."""
SLICE_GROWTH: Final = 4
"""A CSV slice covers at most this many times its predecessor's time."""
SHORTEST_SLICE: Final = timedelta(seconds=1)
"""A CSV slice covers at least this long, however dense the rows before it."""

Request = TypeVar(
    "Request",
    ChartRequest,
    StepSourceRequest,
    WorkflowSourceRequest,
    StepDownloadRequest,
    WorkflowSourceDownloadRequest,
)


@dataclass(frozen=True)
class SourceRows:
    """A planned answer: the query, how its rows are shown, and a name for it as a file."""

    plan: SourceRowsPlan
    shape: RowShape
    file_stem: str


@dataclass
class OpenRows:
    """An answer whose query has run: its first batch, and the rest to come."""

    shape: RowShape
    first: list[tuple[Any, ...]]
    rest: Iterator[list[tuple[Any, ...]]]

    def batches(self) -> Iterator[list[tuple[Any, ...]]]:
        if self.first:
            yield self.first
        yield from self.rest


def unknown_properties(raw: Any) -> list[int]:
    """Positions in ``filters`` whose ``property`` names no raw field (→ 406)."""
    filters = raw.get("filters") if isinstance(raw, dict) else None
    if not isinstance(filters, list):
        return []
    return [
        index
        for index, spec in enumerate(filters)
        if isinstance(spec, dict)
        and isinstance(spec.get("property"), str)
        and spec["property"] not in RAW_FIELDS
    ]


def parse_request(model: type[Request], raw: Any) -> Request:
    """406 for filtering on a property that is not a raw field, else the payload or 400."""
    unknown = unknown_properties(raw)
    if unknown:
        raise NotAcceptable(
            "Filtering on that property is not supported; filter on a raw event field: "
            f"{', '.join(RAW_FIELDS)}.",
            errors=[
                {"loc": ["body", "filters", index, "property"], "msg": "Not a raw event field."}
                for index in unknown
            ],
        )
    return validate_body(model, raw)


def parse_step(raw: str) -> int:
    """A step index in the path: 0 (the source) or more; anything else names no step."""
    if not STEP_INDEX.fullmatch(raw):
        raise NotFound("No such step; a step index is a whole number, 0 for the source step.")
    return int(raw)


def plan_step_rows(
    session: Session,
    principal: Principal,
    workflow_id: str,
    step_index: str,
    request: StepSourceRequest,
) -> SourceRows:
    workflow = _workflow(session, principal, workflow_id)
    step = parse_step(step_index)
    triggered = StepTarget(request.target) is StepTarget.TRIGGERED_GOAL
    rows = Rows.TRIGGERED_GOAL if triggered else Rows.STEP
    return _source_rows(principal, workflow, request, rows, step)


def plan_source_rows(
    session: Session, principal: Principal, workflow_id: str, request: WorkflowSourceRequest
) -> SourceRows:
    workflow = _workflow(session, principal, workflow_id)
    if workflow.type != WorkflowType.INTERACTION:
        raise NotAcceptable(
            "Workflow source data is available for interaction workflows only; "
            f"this workflow's type is {workflow.type!r}."
        )
    if SourceTarget(request.target) is SourceTarget.AFFECTED_GOAL_TOTAL:
        return _source_rows(principal, workflow, request, Rows.ALL_GOALS, None)
    return _source_rows(principal, workflow, request, Rows.AFFECTED_GOAL, None)


def plan_chart(
    session: Session, principal: Principal, workflow_id: str, request: ChartRequest
) -> ChartEvents:
    """The funnel chart's events: the workflow (404 if not the caller's), its path, the
    filters and the interval."""
    workflow = _workflow(session, principal, workflow_id)
    return ChartEvents(
        scope=WorkflowScope(
            principal.organization_id, workflow.id, request.interval.start, request.interval.end
        ),
        path=StepPath.of(workflow.type, _steps(request)),
        filters=tuple(request.filters),
    )


def run_chart(store: EventStore, events: ChartEvents) -> dict[str, Any]:
    """The chart: the counts per step and per action and the links between consecutive
    steps in one statement; only aggregates come out of the store."""
    rows = store.relation_rows(ChartPlan(events))
    return {"steps": chart_steps(rows), "links": chart_links(rows)}


def file_rows(store: EventStore, rows: SourceRows) -> Iterator[list[Any]]:
    """The rows as file cells (an XLSX download's; a CSV is :func:`csv_file`), batch by
    batch from the store's cursor. The plan is rendered now; the query runs when the
    first row is asked for, and closing the generator closes the cursor."""
    return _cells(rows.shape, stream_batches(store, rows.plan))


def _cells(shape: RowShape, batches: Iterator[list[tuple[Any, ...]]]) -> Iterator[list[Any]]:
    try:
        for batch in batches:
            yield from shape.cells(batch)
    finally:
        close_rows(batches)


def open_rows(store: EventStore, rows: SourceRows) -> OpenRows:
    """Runs the query and fetches its first batch; the rest stays in the store's cursor.
    An answer of at most :data:`FIRST_ROWS` rows is looked for in the interval's
    beginning first (:func:`first_rows`)."""
    limit = rows.plan.limit
    if limit is not None and limit <= FIRST_ROWS:
        found = first_rows(store, rows.plan)
        if found is not None:
            return OpenRows(rows.shape, found, iter(()))
    batches = stream_batches(store, rows.plan)
    first = next(batches, [])
    return OpenRows(rows.shape, first, batches)


def stream_batches(store: EventStore, plan: SourceRowsPlan) -> Iterator[list[tuple[Any, ...]]]:
    """The answer's rows in batches, read in :data:`SLICES` consecutive slices of the
    interval (:func:`slices`), each its own query whose cursor is closed before the next
    one runs."""
    left = plan.limit
    for part in slices(plan):
        batches = store.relation_batches(replace(part, limit=left), batch_rows=BATCH_ROWS)
        try:
            for batch in batches:
                yield batch
                if left is not None:
                    left -= len(batch)
        finally:
            close_rows(batches)
        if left is not None and left <= 0:
            return


def csv_file(store: EventStore, rows: SourceRows) -> Iterator[bytes]:
    """The answer as a CSV file in chunks: the header, then the rows as the store writes
    them (``EventStore.relation_csv``: DuckDB writes the lines itself), slice by slice
    (:func:`_csv_lines`). The header goes out with the first rows, so the
    first chunk runs the first query (a failing one is a clean 500, not a cut-off file).
    The bytes are those ``kit.tabular.csv_chunks`` writes for :func:`file_rows`."""
    header = csv_line(rows.shape.names)
    chunks = _csv_lines(store, rows.plan, rows.shape.file_cells())
    try:
        for chunk in chunks:
            yield header + chunk if header else chunk
            header = b""
    finally:
        chunks.close()
    if header:
        yield header


def _csv_lines(
    store: EventStore, plan: SourceRowsPlan, cells: list[CsvCell]
) -> Generator[bytes, None, None]:
    """The rows slice by slice, as :func:`slices` cuts them, but each slice's time sized
    from the one before so that it holds about :data:`SLICE_ROWS` rows: the first covers
    :data:`FIRST_SLICE` of the interval, each next one the time in which the last one's
    rows would have been :data:`SLICE_ROWS` (at most :data:`SLICE_GROWTH` times its
    time, at least :data:`SHORTEST_SLICE`). The engine sorts and writes one slice at a
    time, and DuckDB holds about 2.7 KB per row of a raw CSV while it does, so the
    slices' size is what bounds its memory, whatever the interval's length or the data's
    density (a burst denser than the last slice's rows makes one larger slice). A
    ``limit`` ends the answer at the slice that reaches it: no later row is read."""
    scope, left = plan.scope, plan.limit
    since: datetime | None = None
    width = max((scope.end - scope.start) * FIRST_SLICE, SHORTEST_SLICE)
    while True:
        start = since or scope.start
        end = scope.end if scope.end - start <= width else start + width
        part = replace(plan, scope=replace(scope, end=end), since=since, limit=left)
        written = yield from store.relation_csv(part, cells)
        if left is not None:
            left -= written
            if left <= 0:
                return
        if end >= scope.end:
            return
        growth = SLICE_GROWTH if written == 0 else min(SLICE_GROWTH, SLICE_ROWS / written)
        width, since = max(width * growth, SHORTEST_SLICE), end


def slices(plan: SourceRowsPlan) -> Iterator[SourceRowsPlan]:
    """The plan over :data:`SLICES` consecutive slices of the interval, each ``since`` the
    slice's start, over ``[start, its end)``; the caller shares out a ``limit``.

    The rows come in timestamp order, so the slices' rows one after the other are the
    answer (see :func:`first_rows` for why a relation over ``[start, t)`` returns exactly
    the rows before t); the engine orders one slice at a time instead of the whole answer,
    which for a million rows of 30 columns held close to a gigabyte in DuckDB. Each slice
    reads the events from the interval's start again to judge a path, so a path costs
    more to stream; the rows themselves are read once."""
    scope = plan.scope
    since: datetime | None = None
    for number in range(1, SLICES + 1):
        end = (
            scope.end
            if number == SLICES
            else scope.start + (scope.end - scope.start) * (number / SLICES)
        )
        if end <= (since or scope.start):
            continue  # an interval shorter than SLICES microseconds
        yield replace(plan, scope=replace(scope, end=end), since=since)
        since = end


def first_rows(store: EventStore, plan: SourceRowsPlan) -> list[tuple[Any, ...]] | None:
    """The first ``plan.limit`` rows, found over a prefix ``[start, t)`` of the interval
    (each of :data:`PREFIXES` in turn), or None when no prefix holds that many.

    Every relation of :mod:`~tallybook.funnels.paths` judges a row at time t by events at
    or before t from the same start (a path's earlier steps, a session's or visitor's
    first qualifying event), so over ``[start, t)`` it returns exactly the rows before t
    that it returns over the whole interval, and rows come in timestamp order: once a
    prefix holds ``limit`` rows, they are the answer. A short prefix is cheap, since the
    store skips the blocks of events outside it (time order, zone maps); the whole
    interval is read only when the answer needs it, after prefixes of at most a third of
    its cost."""
    assert plan.limit is not None
    scope = plan.scope
    for share in PREFIXES:
        end = scope.start + (scope.end - scope.start) * share
        if end <= scope.start:
            continue
        found = store.relation_rows(replace(plan, scope=replace(scope, end=end)))
        if len(found) >= plan.limit:
            return found
    return None


def _workflow(session: Session, principal: Principal, workflow_id: str) -> Workflow:
    return get_workflow(session, principal, parse_id(workflow_id, "workflow"))


def _source_rows(
    principal: Principal,
    workflow: Workflow,
    request: StepSourceRequest | WorkflowSourceRequest,
    rows: Rows,
    step: int | None,
) -> SourceRows:
    steps = _steps(request)
    columns = columns_for(request.basic)
    plan = SourceRowsPlan(
        rows=rows,
        scope=WorkflowScope(
            principal.organization_id, workflow.id, request.interval.start, request.interval.end
        ),
        path=StepPath.of(workflow.type, steps),
        columns=tuple(event_columns(columns)),
        filters=tuple(request.filters),
        step=step,
        limit=request.limit,
    )
    return SourceRows(plan, RowShape(columns, str(workflow.id)), _file_stem(workflow, rows, step))


def _steps(request: ChartRequest | StepSourceRequest | WorkflowSourceRequest) -> Any:
    return None if request.step_data is None else [s.actions for s in request.step_data]


_STEMS: Final = {
    Rows.STEP: "step-{step}",
    Rows.TRIGGERED_GOAL: "step-{step}-triggered-goals",
    Rows.AFFECTED_GOAL: "affected-goals",
    Rows.ALL_GOALS: "all-goals",
}


def _file_stem(workflow: Workflow, rows: Rows, step: int | None) -> str:
    """``workflow-<id>-step-3``, ``workflow-<id>-affected-goals``…: what the file holds."""
    return f"workflow-{workflow.id}-" + _STEMS[rows].format(step=step)
