from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from tallybook.kit.body import json_body
from tallybook.kit.db import DBSession
from tallybook.kit.openapi import raw_json_body
from tallybook.saferme.auth import TeamSettingsUser, TeamUser
from tallybook.saferme.forms import service
from tallybook.saferme.forms.schemas import Form, FormCreateBody
from tallybook.saferme.ids import IDS_QUERY, parse_int_id, query_int_ids
from tallybook.saferme.listing import ListQuery
from tallybook.saferme.ranges import RangeHeader, ranged
from tallybook.saferme.schemas import NotNull
from tallybook.saferme.web import V4_ERRORS

router = APIRouter(prefix="/api/v4/forms", tags=["v4: forms"], responses=V4_ERRORS)


@router.get("", response_model=list[Form], summary="List the team's forms")
def list_forms(
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
    wanted = query_int_ids(ids, "ids", "form")
    rows, total = service.list_forms(session, member, page, wanted, listed)
    return ranged(response, "forms", page, rows, total)


@router.post(
    "",
    response_model=Form,
    status_code=status.HTTP_201_CREATED,
    summary="Create a form with its fields",
    openapi_extra=raw_json_body(FormCreateBody),
)
def create_form(
    session: DBSession,
    member: TeamSettingsUser,
    body: Annotated[FormCreateBody, json_body(FormCreateBody)],
) -> object:
    return service.create_form(session, member, body.form)


@router.get("/{form_id}", response_model=Form, summary="Get a form")
def get_form(session: DBSession, member: TeamUser, form_id: str) -> object:
    return service.get_form(session, member, parse_int_id(form_id, "form"))
