from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status
from pydantic import BaseModel, ValidationError

from tallybook.kit.body import json_body, parse_json, read_body, validate_body
from tallybook.kit.db import DBSession, run_in_unit
from tallybook.kit.errors import InvalidPayload, validation_errors
from tallybook.kit.openapi import raw_json_body
from tallybook.kit.schemas import InputTimestamp
from tallybook.saferme.auth import TeamUser
from tallybook.saferme.ids import (
    ID_QUERY,
    IDS_QUERY,
    parse_int_id,
    query_int_id,
    query_int_ids,
)
from tallybook.saferme.ranges import RangeHeader, ranged
from tallybook.saferme.reports import service
from tallybook.saferme.reports.repository import SearchFilter
from tallybook.saferme.reports.schemas import (
    ReadCreate,
    ReadCreateBody,
    Report,
    ReportCreateBody,
    ReportRead,
    ReportSummary,
    ReportUpdateBody,
)
from tallybook.saferme.schemas import NotNull
from tallybook.saferme.web import V4_ERRORS, BaseUrl, orderby_pattern

router = APIRouter(prefix="/api/v4/reports", tags=["v4: reports and reads"], responses=V4_ERRORS)


@router.post(
    "",
    response_model=ReportSummary,
    status_code=status.HTTP_201_CREATED,
    summary="Create a report; the caller is its reporter",
    openapi_extra=raw_json_body(ReportCreateBody),
)
async def create_report(
    session: DBSession,
    member: TeamUser,
    body: Annotated[ReportCreateBody, json_body(ReportCreateBody)],
) -> object:
    # async, the work and its commit in one trip to the thread pool: reports are created
    # in bulk by SaferMe clients, and each trip costs a report 0.1-0.3 ms on a busy machine
    return await run_in_unit(session, service.create_report, member, body.report, one_write=True)


class _Window(BaseModel):
    """The time bounds of a search, checked like every input timestamp."""

    created_after: InputTimestamp | None = None
    created_before: InputTimestamp | None = None
    updated_after: InputTimestamp | None = None
    updated_before: InputTimestamp | None = None


_TIMESTAMP = {"format": "date-time"}


def _window(
    created_after: Annotated[str | NotNull, Query(json_schema_extra=_TIMESTAMP)] = None,
    created_before: Annotated[str | NotNull, Query(json_schema_extra=_TIMESTAMP)] = None,
    updated_after: Annotated[str | NotNull, Query(json_schema_extra=_TIMESTAMP)] = None,
    updated_before: Annotated[str | NotNull, Query(json_schema_extra=_TIMESTAMP)] = None,
) -> dict[str, str | None]:
    return {
        "created_after": created_after,
        "created_before": created_before,
        "updated_after": updated_after,
        "updated_before": updated_before,
    }


@router.get(
    "/search",
    response_model=list[ReportSummary],
    summary="Search the team's reports (answered at once, paginated with Range)",
)
def search_reports(
    session: DBSession,
    member: TeamUser,
    page: RangeHeader,
    response: Response,
    window: Annotated[dict[str, str | None], Depends(_window)],
    channel_ids_brackets: Annotated[
        list[str] | NotNull, Query(alias="channel_ids[]", json_schema_extra=IDS_QUERY)
    ] = None,
    channel_ids: Annotated[list[str] | NotNull, Query(json_schema_extra=IDS_QUERY)] = None,
    channel_id: Annotated[str | NotNull, Query(json_schema_extra=ID_QUERY)] = None,
    report_state_ids_brackets: Annotated[
        list[str] | NotNull, Query(alias="report_state_ids[]", json_schema_extra=IDS_QUERY)
    ] = None,
    report_state_ids: Annotated[list[str] | NotNull, Query(json_schema_extra=IDS_QUERY)] = None,
    report_state_id: Annotated[str | NotNull, Query(json_schema_extra=ID_QUERY)] = None,
    user_id: Annotated[str | NotNull, Query(json_schema_extra=ID_QUERY)] = None,
    orderby: Annotated[
        str | NotNull,
        Query(
            description="`created_at desc` (default), `updated_at asc`, `id asc` …",
            json_schema_extra={"pattern": orderby_pattern(service.ORDERABLE_NAMES)},
        ),
    ] = None,
) -> object:
    channels = _ids("channel_ids", "channel", channel_ids_brackets, channel_ids, channel_id)
    states = _ids(
        "report_state_ids",
        "report state",
        report_state_ids_brackets,
        report_state_ids,
        report_state_id,
    )
    bounds = _bounds(window)
    where = SearchFilter(
        channel_ids=channels,
        state_ids=states,
        user_number=query_int_id(user_id, "user_id", "user"),
        **bounds,
    )
    rows, total = service.search(session, member, where, orderby, page)
    return ranged(response, "reports", page, rows, total)


def _ids(
    name: str, what: str, brackets: list[str] | None, plain: list[str] | None, one: str | None
) -> list[int] | None:
    given = [*(brackets or []), *(plain or []), *([one] if one is not None else [])]
    return query_int_ids(given, name, what) if given else None


def _bounds(window: dict[str, str | None]) -> dict[str, datetime | None]:
    try:
        parsed = _Window.model_validate({k: v for k, v in window.items() if v is not None})
    except ValidationError as exc:
        raise InvalidPayload(validation_errors(exc.errors(), "query")) from None
    return {
        "created_after": parsed.created_after,
        "created_before": parsed.created_before,
        "updated_after": parsed.updated_after,
        "updated_before": parsed.updated_before,
    }


@router.get("/{report_id}", response_model=Report, summary="Get a report with its form fields")
def get_report(session: DBSession, member: TeamUser, report_id: str, base_url: BaseUrl) -> object:
    return service.get_report(session, member, base_url, parse_int_id(report_id, "report"))


@router.patch(
    "/{report_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Change a report's state, place or form values",
    openapi_extra=raw_json_body(ReportUpdateBody),
)
def update_report(
    session: DBSession,
    member: TeamUser,
    report_id: str,
    body: Annotated[ReportUpdateBody, json_body(ReportUpdateBody)],
) -> Response:
    service.update_report(session, member, parse_int_id(report_id, "report"), body.report)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


_OPTIONAL_READ_BODY = raw_json_body(ReadCreateBody)
_OPTIONAL_READ_BODY["requestBody"]["required"] = False


async def _optional_read(request: Request) -> ReadCreate | None:
    raw = await read_body(request)
    if not raw.strip():
        return None
    return validate_body(ReadCreateBody, parse_json(raw)).report_read


@router.post(
    "/{report_id}/reads",
    response_model=ReportRead,
    status_code=status.HTTP_201_CREATED,
    summary="Record that the caller read the report (the body is optional)",
    openapi_extra=_OPTIONAL_READ_BODY,
)
def create_read(
    session: DBSession,
    member: TeamUser,
    report_id: str,
    data: Annotated[ReadCreate | None, Depends(_optional_read)],
) -> object:
    return service.create_read(session, member, parse_int_id(report_id, "report"), data)
