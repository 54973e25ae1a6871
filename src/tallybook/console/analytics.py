"""The v4 analytics dashboard: a channel's nine analytics answers as charts and tables,
from the same service functions that answer ``GET /api/v4/analytics/…`` (so the same
numbers, the same 400s for a bad range or time zone, the same 404 for another team's
channel)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from tallybook.console import charts
from tallybook.console.web import ConsoleDep, ConsoleRoute
from tallybook.kit.db import DBSession
from tallybook.kit.errors import InvalidPayload
from tallybook.saferme.analytics import params, service
from tallybook.saferme.analytics.schemas import AwarenessField, ReadField
from tallybook.saferme.auth import TeamMember
from tallybook.saferme.channels import service as channels
from tallybook.saferme.ranges import ObjectRange
from tallybook.saferme.teams import team_id_of
from tallybook.saferme.web import BaseUrl

router = APIRouter(route_class=ConsoleRoute)

CHANNELS: Final = ObjectRange(offset=0, limit=100)  # the channel picker's choices
IMAGES: Final = ObjectRange(offset=0, limit=12)  # the newest images listed
WEEKDAYS: Final = ("Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat")
_FORM_FIELDS: Final = {"channel_id": "channel", "start_date": "start", "end_date": "end"}


def _defaults() -> dict[str, str]:
    today = datetime.now(UTC).date()
    return {
        "start": f"{today - timedelta(days=90):%Y-%m-%d}",
        "end": f"{today + timedelta(days=1):%Y-%m-%d}",
        "time_zone": "UTC",
    }


def _errors(exc: InvalidPayload) -> dict[str, list[str]]:
    """The API's query errors by form field (``start_date`` → ``start``)."""
    found: dict[str, list[str]] = {}
    for error in exc.errors or []:
        name = str(list(error.get("loc", ("",)))[-1])
        found.setdefault(_FORM_FIELDS.get(name, name), []).append(str(error.get("msg", "")))
    return found


def _dashboard(
    session: Session, member: TeamMember, form: Mapping[str, str], base_url: str
) -> dict[str, Any]:
    """The nine answers for the form's channel, range and time zone, as the API gives
    them; an :class:`InvalidPayload` or ``NotFound`` as the API raises it."""
    window = params.window(
        form["channel"], f"{form['start']}T00:00:00Z", f"{form['end']}T00:00:00Z"
    )
    zone, zone_error = params.parse_zone(form.get("time_zone") or None)
    params.check([zone_error])
    fields = service.selection_fields(session, member, window.channel_id)
    images, image_total = service.reports_images(session, member, window, base_url, IMAGES)
    return {
        "over_time": service.reports_over_time(session, member, window, None, zone),
        "per_state": service.reports_per_state(session, member, window),
        "per_user": service.reports_per_user(session, member, window),
        "per_field": [
            (label, service.reports_per_field_selection(session, member, window, field_id))
            for field_id, label in fields
        ],
        "day_hour": service.reports_per_day_hour(session, member, window, zone),
        "week_day": service.reports_per_week_day(session, member, window, zone),
        "reads": service.reports_read(session, member, window, list(ReadField)),
        "awareness": service.user_awareness(session, member, window, list(AwarenessField)),
        "images": images,
        "image_total": image_total,
    }


def _tables(answers: Mapping[str, Any]) -> dict[str, Any]:
    """(label, reports) rows of the charts drawn as bars, for the tables beside them."""
    return {
        "per_state": [(row.name, row.report_count) for row in answers["per_state"]],
        "per_user": [(f"user {row.user_id}", row.report_count) for row in answers["per_user"]],
        "per_field": [
            [(row.name, row.report_count) for row in rows] for _label, rows in answers["per_field"]
        ],
        "day_hour": [(f"{row.hour:02d}:00", row.report_count) for row in answers["day_hour"]],
        "week_day": [(WEEKDAYS[row.dow], row.report_count) for row in answers["week_day"]],
    }


def _charts(answers: Mapping[str, Any]) -> dict[str, Any]:
    over_time = answers["over_time"]
    width = over_time[0].datetime_range_width if over_time else "bucket"
    return {
        "over_time": charts.line_chart(
            [f"{row.datetime_range_start:%Y-%m-%d %H:%M}" for row in over_time],
            [("reports", [float(row.report_count) for row in over_time])],
            f"Reports per {width}",
        ),
        "per_state": charts.bars(
            [charts.Bar(row.name, float(row.report_count)) for row in answers["per_state"]],
            "Reports per state",
            empty="The channel has no states.",
        ),
        "per_user": charts.bars(
            [
                charts.Bar(f"user {row.user_id}", float(row.report_count))
                for row in answers["per_user"]
            ],
            "Reports per user",
            empty="Nobody reported in this range.",
        ),
        "per_field": [
            charts.bars(
                [charts.Bar(row.name, float(row.report_count)) for row in rows],
                f"Reports per selection of {label}",
            )
            for label, rows in answers["per_field"]
        ],
        "day_hour": charts.period_chart(
            [charts.Bar(f"{row.hour:02d}", float(row.report_count)) for row in answers["day_hour"]],
            None,
            "Reports per hour of the day",
            empty="No reports in this range.",
        ),
        "week_day": charts.period_chart(
            [charts.Bar(WEEKDAYS[row.dow], float(row.report_count)) for row in answers["week_day"]],
            None,
            "Reports per day of the week",
            empty="No reports in this range.",
        ),
        "awareness": charts.bars(
            [
                charts.Bar(
                    f"{row.first_name} {row.last_name}".strip() or f"user {row.user_id}",
                    float(row.alerts_opened or 0),
                )
                for row in answers["awareness"]
            ],
            "Alerts opened per user",
            empty="No alerts in this range.",
        ),
    }


@router.get("/analytics", response_class=HTMLResponse)
def analytics_page(
    console: ConsoleDep, session: DBSession, request: Request, base_url: BaseUrl
) -> HTMLResponse:
    principal = console.require("reporting")
    member = TeamMember(principal, team_id_of(session, principal.organization_id))
    listed, _total = channels.list_channels(session, member, CHANNELS, None)
    form = {**_defaults(), **dict(request.query_params)}
    if not form.get("channel") and listed:
        form["channel"] = str(listed[0].id)
    answers: dict[str, Any] | None = None
    errors: dict[str, list[str]] = {}
    status = 200
    if form.get("channel"):
        try:
            answers = _dashboard(session, member, form, base_url)
        except InvalidPayload as exc:
            errors, status = _errors(exc), 400
    return console.page(
        "analytics.html",
        status_code=status,
        channels=listed,
        values=form,
        errors=errors,
        answers=answers,
        charts=_charts(answers) if answers is not None else None,
        tables=_tables(answers) if answers is not None else None,
        weekdays=WEEKDAYS,
        number=charts.number,
    )
