"""Workflow reporting routes (seeds 001 and 002). Thin: read the body after the caller is
known, plan (every refusal), open the rows, answer."""

from __future__ import annotations

from typing import Annotated, Final

from fastapi import APIRouter, Path, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from tallybook.auth.dependencies import ReportingUser
from tallybook.events.endpoints import EventStoreDep
from tallybook.funnels import service
from tallybook.funnels.responses import FILE_RESPONSES, file_rows, json_rows
from tallybook.funnels.schemas import (
    ChartRequest,
    ChartResponse,
    SourceDataResponse,
    StepDownloadRequest,
    StepSourceRequest,
    WorkflowSourceDownloadRequest,
    WorkflowSourceRequest,
)
from tallybook.kit.body import read_json
from tallybook.kit.db import DBSession
from tallybook.kit.errors import error_responses
from tallybook.kit.openapi import raw_json_body

PREFIX: Final = "/api/reporting/workflow/v1/orgs/{org_id}/workflows/{workflow_id}"

router = APIRouter(
    prefix=PREFIX,
    tags=["Workflow reporting"],
    responses=error_responses(400, 401, 403, 404, 406),
)

StepIndex = Annotated[
    str,
    Path(
        description="The step: 0 is the source step, then 1, 2, …; anything else is 404.",
        json_schema_extra={"pattern": f"^{service.STEP_INDEX.pattern}$"},
    ),
]
"""Documented as the whole number it is; checked by ``service.parse_step`` (404, not 400)."""


@router.post(
    "/step/{step_index}",
    response_model=SourceDataResponse,
    summary="Step source data: the events behind one step of the funnel",
    description=(
        "The events of step `step_index` in the interval that match `filters`. For web "
        "navigation and interaction workflows `step_data` chooses the path: only the "
        "listed actions of a step count, and a session must have passed a listed action "
        "of every earlier step first. `target: triggered_goal` returns the goal events "
        "of those sessions at or after their step event instead. Rows in timestamp order; "
        "without `limit` all of them, streamed."
    ),
    openapi_extra=raw_json_body(StepSourceRequest),
)
async def step_source_data(
    request: Request,
    principal: ReportingUser,
    session: DBSession,
    store: EventStoreDep,
    workflow_id: str,
    step_index: StepIndex,
) -> StreamingResponse:
    payload = service.parse_request(StepSourceRequest, await read_json(request))
    rows = await run_in_threadpool(
        service.plan_step_rows, session, principal, workflow_id, step_index, payload
    )
    return json_rows(await run_in_threadpool(service.open_rows, store, rows))


@router.post(
    "/source_data",
    response_model=SourceDataResponse,
    summary="Workflow source data: the goal events a workflow affected",
    description=(
        "Interaction workflows only (406 otherwise). `affected_goal`: goal events whose "
        "visitor had an event of the workflow (on the path of `step_data`, if given) at "
        "or before the goal; `affected_goal_total`: every goal event of the organisation. "
        "Both in the interval, matching `filters`, in timestamp order."
    ),
    openapi_extra=raw_json_body(WorkflowSourceRequest),
)
async def workflow_source_data(
    request: Request,
    principal: ReportingUser,
    session: DBSession,
    store: EventStoreDep,
    workflow_id: str,
) -> StreamingResponse:
    payload = service.parse_request(WorkflowSourceRequest, await read_json(request))
    rows = await run_in_threadpool(
        service.plan_source_rows, session, principal, workflow_id, payload
    )
    return json_rows(await run_in_threadpool(service.open_rows, store, rows))


@router.post(
    "/step/{step_index}/download",
    response_class=StreamingResponse,
    responses=FILE_RESPONSES,
    summary="Download step source data as CSV or XLSX",
    description=(
        "The rows and columns of step source data (same payload, `basic` honoured) as a "
        "file: `format` `csv` (default; UTF-8 with a header row) or `xlsx`."
    ),
    openapi_extra=raw_json_body(StepDownloadRequest),
)
async def download_step_source_data(
    request: Request,
    principal: ReportingUser,
    session: DBSession,
    store: EventStoreDep,
    workflow_id: str,
    step_index: StepIndex,
) -> StreamingResponse:
    payload = service.parse_request(StepDownloadRequest, await read_json(request))
    rows = await run_in_threadpool(
        service.plan_step_rows, session, principal, workflow_id, step_index, payload
    )
    return file_rows(store, rows, payload.format)


@router.post(
    "/source_data/download",
    response_class=StreamingResponse,
    responses=FILE_RESPONSES,
    summary="Download workflow source data as CSV or XLSX",
    description=(
        "The rows and columns of workflow source data (same payload, `basic` honoured) as "
        "a file: `format` `csv` (default; UTF-8 with a header row) or `xlsx`."
    ),
    openapi_extra=raw_json_body(WorkflowSourceDownloadRequest),
)
async def download_workflow_source_data(
    request: Request,
    principal: ReportingUser,
    session: DBSession,
    store: EventStoreDep,
    workflow_id: str,
) -> StreamingResponse:
    payload = service.parse_request(WorkflowSourceDownloadRequest, await read_json(request))
    rows = await run_in_threadpool(
        service.plan_source_rows, session, principal, workflow_id, payload
    )
    return file_rows(store, rows, payload.format)


@router.post(
    "/query",
    response_model=ChartResponse,
    summary="The funnel chart: steps, actions, conversion and the session flows",
    description=(
        "The chart of the events step source data returns (same `filters`, `step_data` and "
        "`interval`): for each step with events its index, name (`dim4`), events, unique "
        "visitors and sessions, and conversion (sessions at the step / sessions at step 0), "
        "and per action the same counts; then the Sankey links between consecutive steps: "
        "distinct sessions with an event of `from_action` at `from_step` and an event of "
        "`to_action` at the next step at the same time or later."
    ),
    openapi_extra=raw_json_body(ChartRequest),
)
async def funnel_chart(
    request: Request,
    principal: ReportingUser,
    session: DBSession,
    store: EventStoreDep,
    workflow_id: str,
) -> ChartResponse:
    payload = service.parse_request(ChartRequest, await read_json(request))
    events = await run_in_threadpool(service.plan_chart, session, principal, workflow_id, payload)
    chart = await run_in_threadpool(service.run_chart, store, events)
    return ChartResponse.model_validate(chart)
