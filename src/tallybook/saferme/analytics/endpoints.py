from __future__ import annotations

from typing import Annotated, Any, Final
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Response

from tallybook.kit.db import DBSession
from tallybook.saferme.analytics import params, service
from tallybook.saferme.analytics.buckets import Width
from tallybook.saferme.analytics.params import Window
from tallybook.saferme.analytics.schemas import (
    AwarenessField,
    AwarenessRow,
    DayHourRow,
    FieldSelectionRow,
    OverTimeRow,
    ReadField,
    ReadsSummary,
    ReportImageRow,
    StateRow,
    UserRow,
    WeekDayRow,
)
from tallybook.saferme.auth import TeamReportingUser
from tallybook.saferme.ids import ID_QUERY
from tallybook.saferme.ranges import RangeHeader, ranged
from tallybook.saferme.schemas import NotNull
from tallybook.saferme.web import V4_ERRORS, BaseUrl

router = APIRouter(prefix="/api/v4/analytics", tags=["v4: analytics"], responses=V4_ERRORS)

_INSTANT: Final = {"format": "date-time"}


def _window(
    channel_id: Annotated[
        str, Query(description="The channel (SaferMe's account).", json_schema_extra=ID_QUERY)
    ],
    start_date: Annotated[
        str,
        Query(
            description="Reports made at or after this instant count.", json_schema_extra=_INSTANT
        ),
    ],
    end_date: Annotated[
        str,
        Query(description="Reports made before this instant count.", json_schema_extra=_INSTANT),
    ],
) -> Window:
    return params.window(channel_id, start_date, end_date)


AnalyticsWindow = Annotated[Window, Depends(_window)]
"""Listed after the route's auth parameter: a bad window is a 400 only for a caller who may
call the route."""

TimeZone = Annotated[
    str | NotNull,
    Query(
        description="IANA time zone of the local hours and days (default UTC).",
        json_schema_extra={"examples": ["Pacific/Auckland"]},
    ),
]


def _local_zone(time_zone: TimeZone = None) -> ZoneInfo:
    zone, error = params.parse_zone(time_zone)
    params.check([error])
    return zone


LocalZone = Annotated[ZoneInfo, Depends(_local_zone)]
"""``time_zone`` parsed (UTC when absent); an unknown zone is 400. Listed after the window,
so a bad window is reported first."""


def _fields_pattern(kind: type[ReadField] | type[AwarenessField]) -> dict[str, Any]:
    names = "|".join(str(member) for member in kind)
    return {"items": {"type": "string", "pattern": f"^(({names})(,({names}))*)?$"}}


@router.get(
    "/reports_images",
    response_model=list[ReportImageRow],
    summary="Images of the channel's reports made in the range, newest first (Range pages)",
)
def reports_images(
    session: DBSession,
    member: TeamReportingUser,
    window: AnalyticsWindow,
    page: RangeHeader,
    response: Response,
    base_url: BaseUrl,
) -> object:
    rows, total = service.reports_images(session, member, window, base_url, page)
    return ranged(response, "reports_images", page, rows, total)


@router.get(
    "/reports_over_time",
    response_model=list[OverTimeRow],
    summary="Reports per hour, day, week or month; every bucket of the range, empty ones too",
)
def reports_over_time(
    session: DBSession,
    member: TeamReportingUser,
    window: AnalyticsWindow,
    width: Annotated[
        str | NotNull,
        Query(
            description="Default: hour up to 2 days, day up to 31, week up to 366, else month.",
            json_schema_extra={"enum": [str(w) for w in Width]},
        ),
    ] = None,
    time_zone: TimeZone = None,
) -> object:
    chosen, width_error = params.parse_width(width)
    zone, zone_error = params.parse_zone(time_zone)
    params.check([width_error, zone_error])
    return service.reports_over_time(session, member, window, chosen, zone)


@router.get(
    "/reports_per_field_selection",
    response_model=list[FieldSelectionRow],
    summary="Reports per option of a Category, DropDown or Radio field; every option",
)
def reports_per_field_selection(
    session: DBSession,
    member: TeamReportingUser,
    window: AnalyticsWindow,
    field_id: Annotated[
        str, Query(description="A field of the team's forms.", json_schema_extra=ID_QUERY)
    ],
) -> object:
    field, error = params.parse_id(field_id, "field_id")
    params.check([error])
    assert field is not None
    return service.reports_per_field_selection(session, member, window, field)


@router.get(
    "/reports_per_state",
    response_model=list[StateRow],
    summary="Reports per state of the channel; every state",
)
def reports_per_state(
    session: DBSession, member: TeamReportingUser, window: AnalyticsWindow
) -> object:
    return service.reports_per_state(session, member, window)


@router.get(
    "/reports_per_user",
    response_model=list[UserRow],
    summary="Reports per reporter, of those who made one; most first",
)
def reports_per_user(
    session: DBSession, member: TeamReportingUser, window: AnalyticsWindow
) -> object:
    return service.reports_per_user(session, member, window)


@router.get(
    "/reports_per_day_hour",
    response_model=list[DayHourRow],
    summary="Reports per hour of the day (0–23), in UTC or time_zone; all 24",
)
def reports_per_day_hour(
    session: DBSession, member: TeamReportingUser, window: AnalyticsWindow, zone: LocalZone
) -> object:
    return service.reports_per_day_hour(session, member, window, zone)


@router.get(
    "/reports_per_week_day",
    response_model=list[WeekDayRow],
    summary="Reports per day of the week (0 Sunday), in UTC or time_zone; all 7",
)
def reports_per_week_day(
    session: DBSession, member: TeamReportingUser, window: AnalyticsWindow, zone: LocalZone
) -> object:
    return service.reports_per_week_day(session, member, window, zone)


@router.get(
    "/reports_read",
    response_model=ReadsSummary,
    response_model_exclude_unset=True,
    summary="Reads made in the range of the channel's reports: the fields asked for",
)
def reports_read(
    session: DBSession,
    member: TeamReportingUser,
    window: AnalyticsWindow,
    fields: Annotated[
        list[str] | NotNull,
        Query(
            description="Comma-separated; default total_reads.",
            json_schema_extra=_fields_pattern(ReadField),
        ),
    ] = None,
) -> object:
    wanted, error = params.parse_fields(fields, ReadField)
    params.check([error])
    return service.reports_read(session, member, window, wanted)


@router.get(
    "/user_awareness",
    response_model=list[AwarenessRow],
    response_model_exclude_unset=True,
    summary="Per user alerted in the range about the channel's reports: the fields asked for",
)
def user_awareness(
    session: DBSession,
    member: TeamReportingUser,
    window: AnalyticsWindow,
    fields: Annotated[
        list[str] | NotNull,
        Query(
            description="Comma-separated; default total_alerts.",
            json_schema_extra=_fields_pattern(AwarenessField),
        ),
    ] = None,
) -> object:
    wanted, error = params.parse_fields(fields, AwarenessField)
    params.check([error])
    return service.user_awareness(session, member, window, wanted)
