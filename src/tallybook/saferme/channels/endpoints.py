from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from tallybook.kit.body import json_body
from tallybook.kit.db import DBSession
from tallybook.kit.openapi import raw_json_body
from tallybook.saferme.auth import TeamSettingsUser, TeamUser
from tallybook.saferme.channels import service
from tallybook.saferme.channels.schemas import (
    Channel,
    ChannelCreateBody,
    ChannelUpdateBody,
    ReportState,
    ReportStateCreateBody,
)
from tallybook.saferme.ids import (
    ID_QUERY,
    IDS_QUERY,
    parse_int_id,
    query_int_id,
    query_int_ids,
)
from tallybook.saferme.listing import ListQuery
from tallybook.saferme.ranges import RangeHeader, ranged
from tallybook.saferme.schemas import NotNull
from tallybook.saferme.web import V4_ERRORS

router = APIRouter(prefix="/api/v4", tags=["v4: channels and report states"], responses=V4_ERRORS)


@router.get("/channels", response_model=list[Channel], summary="List channels by name")
def list_channels(
    session: DBSession,
    member: TeamUser,
    page: RangeHeader,
    response: Response,
    listed: ListQuery,
    ids: Annotated[
        list[str] | NotNull,
        Query(description="Only these ids (`1,2` or repeated).", json_schema_extra=IDS_QUERY),
    ] = None,
) -> object:
    wanted = query_int_ids(ids, "ids", "channel")
    rows, total = service.list_channels(session, member, page, wanted, listed)
    return ranged(response, "channels", page, rows, total)


@router.post(
    "/channels",
    response_model=Channel,
    status_code=status.HTTP_201_CREATED,
    summary="Create a channel",
    openapi_extra=raw_json_body(ChannelCreateBody),
)
def create_channel(
    session: DBSession,
    member: TeamSettingsUser,
    body: Annotated[ChannelCreateBody, json_body(ChannelCreateBody)],
) -> object:
    return service.create_channel(session, member, body.channel)


@router.get("/channels/{channel_id}", response_model=Channel, summary="Get a channel")
def get_channel(session: DBSession, member: TeamUser, channel_id: str) -> object:
    return service.get_channel(session, member, parse_int_id(channel_id, "channel"))


@router.patch(
    "/channels/{channel_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Change a channel",
    openapi_extra=raw_json_body(ChannelUpdateBody),
)
def update_channel(
    session: DBSession,
    member: TeamSettingsUser,
    channel_id: str,
    body: Annotated[ChannelUpdateBody, json_body(ChannelUpdateBody)],
) -> Response:
    service.update_channel(session, member, parse_int_id(channel_id, "channel"), body.channel)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete(
    "/channels/{channel_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a channel with its states and reports",
)
def delete_channel(session: DBSession, member: TeamSettingsUser, channel_id: str) -> Response:
    service.delete_channel(session, member, parse_int_id(channel_id, "channel"))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/report_states",
    response_model=list[ReportState],
    summary="List report states (of one channel with account_id or channel_id)",
)
def list_report_states(
    session: DBSession,
    member: TeamUser,
    page: RangeHeader,
    response: Response,
    listed: ListQuery,
    account_id: Annotated[
        str | NotNull, Query(description="A channel of the team.", json_schema_extra=ID_QUERY)
    ] = None,
    channel_id: Annotated[
        str | NotNull, Query(description="The same as account_id.", json_schema_extra=ID_QUERY)
    ] = None,
) -> object:
    chosen = query_int_id(account_id, "account_id", "channel")
    if chosen is None:
        chosen = query_int_id(channel_id, "channel_id", "channel")
    rows, total = service.list_states(session, member, chosen, page, listed)
    return ranged(response, "report_states", page, rows, total)


@router.post(
    "/report_states",
    response_model=ReportState,
    status_code=status.HTTP_201_CREATED,
    summary="Create a report state of a channel",
    openapi_extra=raw_json_body(ReportStateCreateBody),
)
def create_report_state(
    session: DBSession,
    member: TeamSettingsUser,
    body: Annotated[ReportStateCreateBody, json_body(ReportStateCreateBody)],
) -> object:
    return service.create_state(session, member, body.report_state)


@router.get("/report_states/{state_id}", response_model=ReportState, summary="Get a report state")
def get_report_state(session: DBSession, member: TeamUser, state_id: str) -> object:
    return service.get_state(session, member, parse_int_id(state_id, "report state"))
