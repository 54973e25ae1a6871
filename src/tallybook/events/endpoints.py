from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response, status
from starlette.concurrency import run_in_threadpool

from tallybook.auth.dependencies import ReportingUser, TokenHeader, TokenQuery
from tallybook.auth.principal import principal_for
from tallybook.events import service
from tallybook.events.records import EventSource
from tallybook.events.schemas import FetchRequest, FetchResponse, IngestBatch, IngestResult
from tallybook.events.store import EventStore
from tallybook.kit.body import JSON, read_body, read_json
from tallybook.kit.db import DBSession
from tallybook.kit.errors import error_responses
from tallybook.kit.middleware import PUBLIC_CORS_HEADERS
from tallybook.kit.openapi import raw_json_body


def get_event_store(request: Request) -> EventStore:
    store: EventStore = request.app.state.event_store
    return store


EventStoreDep = Annotated[EventStore, Depends(get_event_store)]

router = APIRouter(tags=["Generic Reporting events"])

BROWSER_PATHS = frozenset({f"/events/v2/store/{EventSource.UNTRUSTED}"})
"""Paths web pages on any origin may POST to (CORS): ingestion that needs no token."""

SourcePath = Annotated[
    str,
    Path(
        description="Who sends the events; any other value is 404.",
        json_schema_extra={"enum": [str(source) for source in EventSource]},
    ),
]
"""Documented as the enum it is; checked by ``service.check_source`` (404, not 400)."""

BROWSER_TYPES = JSON | {"text/plain"}
"""What browsers send: ``navigator.sendBeacon`` with a string body is ``text/plain``, a
type a page may also choose to avoid a preflight. The body is read as JSON either way."""


@router.post(
    "/events/v2/store/{source}",
    response_model=IngestResult,
    summary="Store a batch of events (atomic; idempotent by event id)",
    description=(
        "`untrusted` needs no token (browsers), but each event's organisation must exist "
        "and be active; `trusted` and `external` need a token of the events' organisation. "
        "At most 10,000 events or 10 MB per request. The body is JSON, sent as "
        "`application/json`; `untrusted` also takes `text/plain` (what "
        "`navigator.sendBeacon` sends) and may be called from any web origin (CORS)."
    ),
    responses=error_responses(400, 401, 403, 404, 413),
    openapi_extra=raw_json_body(IngestBatch, also=("text/plain",)),
)
async def store_events(
    request: Request,
    source: SourcePath,
    session: DBSession,
    store: EventStoreDep,
    header: TokenHeader = None,
    query_token: TokenQuery = None,
) -> IngestResult:
    service.check_source(source)
    principal = None
    if source != EventSource.UNTRUSTED:
        principal = await run_in_threadpool(principal_for, session, header, query_token)
    body = await read_body(request, BROWSER_TYPES if principal is None else JSON)
    now = datetime.now(UTC)
    return await run_in_threadpool(service.ingest, session, store, source, body, principal, now)


@router.options(
    "/events/v2/store/{source}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="CORS preflight of a web page that sends events",
    description=(
        "`untrusted` answers any origin: `POST`, with `Content-Type` and the usual request "
        "headers, no credentials. The other sources are for servers, not web pages."
    ),
    responses=error_responses(404),
)
async def preflight_events(source: SourcePath) -> Response:
    service.check_source(source)
    headers = {"Allow": "OPTIONS, POST"}
    if source == EventSource.UNTRUSTED:
        headers.update(PUBLIC_CORS_HEADERS)
    return Response(status_code=status.HTTP_204_NO_CONTENT, headers=headers)


@router.post(
    "/api/events/v2/orgs/{org_id}/fetch",
    response_model=FetchResponse,
    summary="Query events: buckets, groups, aggregations and filters",
    responses=error_responses(400, 401, 403, 406),
    openapi_extra=raw_json_body(FetchRequest),
)
async def fetch_events(
    request: Request, principal: ReportingUser, store: EventStoreDep
) -> FetchResponse:
    query = service.parse_fetch(await read_json(request))
    result = await run_in_threadpool(service.fetch, store, principal, query)
    return FetchResponse.model_validate({"fields": result.fields, "data": result.data})
