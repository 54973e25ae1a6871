"""The event explorer: a fetch query built from a form (interval, granularity, one
aggregation, group_by, simple filters), answered by the events service as
``POST /api/events/v2/orgs/{org}/fetch`` answers it, drawn as a line chart and a table,
with the equivalent JSON body shown for copying."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from tallybook.console import charts
from tallybook.console.web import ConsoleDep, ConsoleRoute, field_errors
from tallybook.events import service as events
from tallybook.events.endpoints import EventStoreDep
from tallybook.events.query.language import AGGREGATIONS, DIMENSIONS, GRANULARITIES
from tallybook.events.query.results import FetchResult
from tallybook.kit.errors import InvalidPayload

router = APIRouter(route_class=ConsoleRoute)

FILTERS = 3  # rows of "dimension = value" in the form, all of which must hold
SERIES = 5  # lines drawn; the table has every group
FILTERABLE = tuple(d for d in DIMENSIONS if d not in ("properties", "partner_organization_ids"))


def _defaults() -> dict[str, str]:
    today = datetime.now(UTC).date()
    return {
        "vendor": "",
        "start": f"{today - timedelta(days=7):%Y-%m-%d}",
        "end": f"{today + timedelta(days=1):%Y-%m-%d}",
        "granularity": "day",
        "aggregation": "count",
        "group_by": "",
    }


def fetch_body(form: Mapping[str, str]) -> dict[str, Any]:
    """The form as the fetch API's body: the query a user can copy and send with curl."""
    body: dict[str, Any] = {
        "vendor": form.get("vendor", "").strip(),
        "granularity": form.get("granularity", "day"),
        "aggregations": [form.get("aggregation", "count")],
        "interval": {
            "start": f"{form.get('start', '')}T00:00:00Z",
            "end": f"{form.get('end', '')}T00:00:00Z",
        },
    }
    if form.get("group_by"):
        body["group_by"] = [form["group_by"]]
    selectors = [
        {"type": "selector", "dimension": form[f"filter{n}"], "value": form.get(f"value{n}", "")}
        for n in range(FILTERS)
        if form.get(f"filter{n}")
    ]
    if len(selectors) == 1:
        body["filters"] = selectors[0]
    elif selectors:
        body["filters"] = {"type": "and", "fields": selectors}
    return body


def _series(result: FetchResult, grouped: bool) -> tuple[list[str], list[tuple[str, list[float]]]]:
    """Bucket labels and one line per group (the biggest first), from the rows."""
    labels: list[str] = []
    values: dict[str, dict[str, float]] = {}
    for row in result.data:
        label = str(row[0])[:10] if row[0] is not None else "all"
        if label not in labels:
            labels.append(label)
        group = str(row[1]) if grouped else "value"
        metric = row[-1]
        values.setdefault(group, {})[label] = float(metric) if metric is not None else 0.0
    ranked = sorted(values.items(), key=lambda item: -sum(item[1].values()))[:SERIES]
    return labels, [(name, [found.get(x, 0.0) for x in labels]) for name, found in ranked]


@router.get("/explorer", response_class=HTMLResponse)
def explorer(console: ConsoleDep, store: EventStoreDep, request: Request) -> HTMLResponse:
    principal = console.require("reporting")
    form = {**_defaults(), **dict(request.query_params)}
    asked = bool(form["vendor"].strip())
    body = fetch_body(form)
    result, errors, status = None, {}, 200
    if asked:
        try:
            result = events.fetch(store, principal, events.parse_fetch(body))
        except InvalidPayload as exc:
            errors, status = field_errors(exc.errors or []), 400
    chart = None
    if result is not None:
        labels, series = _series(result, bool(form.get("group_by")))
        chart = charts.line_chart(
            labels,
            series,
            f"{form['aggregation']} of {form['vendor']} events per {form['granularity']}",
        )
    return console.page(
        "explorer.html",
        status_code=status,
        values=form,
        errors=errors,
        asked=asked,
        result=result,
        chart=chart,
        query=orjson.dumps(body, option=orjson.OPT_INDENT_2).decode(),
        granularities=GRANULARITIES,
        aggregations=AGGREGATIONS,
        dimensions=FILTERABLE,
        filters=range(FILTERS),
    )
