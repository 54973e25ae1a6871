"""The workflows list and a workflow's page: the funnel chart of the workflow chart query
(steps, actions, flows, conversion) over an interval, and the step source data table with
its CSV/XLSX download. The funnels service plans and runs every query, as for the API."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, StreamingResponse

from tallybook.console import charts
from tallybook.console.web import ConsoleDep, ConsoleRoute
from tallybook.events.endpoints import EventStoreDep
from tallybook.events.store import EventStore
from tallybook.funnels import service as funnels
from tallybook.funnels.responses import file_rows
from tallybook.funnels.schemas import (
    MAX_STEPS,
    ChartRequest,
    StepDownloadRequest,
    StepSourceRequest,
)
from tallybook.kit.db import DBSession
from tallybook.kit.ids import parse_id
from tallybook.kit.tabular.cells import close_rows
from tallybook.targets import service as targets
from tallybook.workflows import service as workflows

router = APIRouter(route_class=ConsoleRoute)

TABLE_ROWS = 20
_STEP = re.compile(r"[0-9]{1,4}")


def _interval(start: str | None, end: str | None) -> dict[str, str]:
    """The picker's dates (``YYYY-MM-DD``, UTC); by default the last fortnight and today."""
    today = datetime.now(UTC).date()
    return {
        "start": start or f"{today - timedelta(days=14):%Y-%m-%d}",
        "end": end or f"{today + timedelta(days=1):%Y-%m-%d}",
    }


def _body(interval: dict[str, str], path: list[str], **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "filters": [],
        "interval": {key: f"{value}T00:00:00Z" for key, value in interval.items()},
        **extra,
    }
    step_data = _step_data(path)
    if step_data:
        body["step_data"] = step_data
    return body


def _step_data(path: list[str]) -> list[dict[str, list[str]]]:
    """The picked actions (``<step>:<action>`` each) as the API's ``step_data``: for each
    step up to the last one picked, its actions, or all of them (``{}``) when none is. An
    item that is not a step index below ``MAX_STEPS`` and an action is passed over, as the
    links the pages make never hold one."""
    chosen: dict[int, list[str]] = {}
    for item in path:
        step, _, action = item.partition(":")
        if _STEP.fullmatch(step) and int(step) < MAX_STEPS and action:
            chosen.setdefault(int(step), []).append(action)
    if not chosen:
        return []
    return [{"actions": chosen[n]} if n in chosen else {} for n in range(max(chosen) + 1)]


def _rows(store: EventStore, rows: funnels.SourceRows) -> list[list[Any]]:
    """The first rows of a step's source data; the cursor behind the rest is closed."""
    opened = funnels.open_rows(store, rows)
    try:
        return rows.shape.values(opened.first[:TABLE_ROWS])
    finally:
        close_rows(opened.rest)


@router.get("/workflows", response_class=HTMLResponse)
def workflows_page(console: ConsoleDep, session: DBSession) -> HTMLResponse:
    principal = console.require("reporting")
    every = workflows.list_workflows(session, principal)
    by_workflow = targets.targets_by_workflow(session, principal)
    counts = {w.id: len(by_workflow.get(w.id, [])) for w in every}
    return console.page("workflows.html", workflows=every, counts=counts)


@router.get("/workflows/{workflow_id}", response_class=HTMLResponse)
def workflow_page(
    console: ConsoleDep,
    session: DBSession,
    store: EventStoreDep,
    workflow_id: str,
    start: str | None = None,
    end: str | None = None,
    step: str = "0",
    path: Annotated[list[str] | None, Query()] = None,
) -> HTMLResponse:
    principal = console.require("reporting")
    workflow = workflows.get_workflow(session, principal, parse_id(workflow_id, "workflow"))
    interval, picked = _interval(start, end), path or []
    request = funnels.parse_request(ChartRequest, _body(interval, picked))
    events = funnels.plan_chart(session, principal, workflow_id, request)
    chart = funnels.run_chart(store, events)
    rows = funnels.plan_step_rows(
        session,
        principal,
        workflow_id,
        step,
        funnels.parse_request(
            StepSourceRequest, _body(interval, picked, limit=TABLE_ROWS, basic=True)
        ),
    )
    bars = [
        charts.Bar(f"{s['index']}. {s['name'] or 'step'}", float(s["sessions"]))
        for s in chart["steps"]
    ]
    return console.page(
        "workflow.html",
        workflow=workflow,
        interval=interval,
        steps=chart["steps"],
        links=chart["links"],
        funnel=charts.funnel(bars, f"Sessions at each step of {workflow.name}"),
        step=funnels.parse_step(step),
        header=rows.shape.names,
        table=_rows(store, rows),
        picked=set(picked),
        path_query="".join(f"&path={quote(p)}" for p in picked),
        number=charts.number,
    )


@router.get("/workflows/{workflow_id}/download")
def download_step(
    console: ConsoleDep,
    session: DBSession,
    store: EventStoreDep,
    workflow_id: str,
    start: str | None = None,
    end: str | None = None,
    step: str = "0",
    format: str = "csv",
    path: Annotated[list[str] | None, Query()] = None,
) -> StreamingResponse:
    """The step's source data as a file: the API's download, the same planner and writer."""
    principal = console.require("reporting")
    body = _body(_interval(start, end), path or [], basic=True, format=format)
    request = funnels.parse_request(StepDownloadRequest, body)
    rows = funnels.plan_step_rows(session, principal, workflow_id, step, request)
    return file_rows(store, rows, request.format)
