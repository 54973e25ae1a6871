from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from importlib import resources
from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, Path, Request, Response, status
from fastapi.types import DecoratedCallable
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from tallybook.auth.dependencies import (
    ReportingUser,
    TokenHeader,
    TokenQuery,
    known_principals,
)
from tallybook.events import service
from tallybook.events.records import EventSource
from tallybook.events.schemas import (
    FetchRequest,
    FetchResponse,
    IncomingEvent,
    IngestBody,
    IngestResult,
)
from tallybook.events.service import BodyShape
from tallybook.events.store import EventStore
from tallybook.kit.body import JSON, read_body, read_json
from tallybook.kit.db import DBSession
from tallybook.kit.errors import error_responses
from tallybook.kit.middleware import PUBLIC_CORS_HEADERS
from tallybook.kit.openapi import raw_json_body


async def get_event_store(request: Request) -> EventStore:  # async: no trip to the threads
    store: EventStore = request.app.state.event_store
    return store


EventStoreDep = Annotated[EventStore, Depends(get_event_store)]

router = APIRouter(tags=["Generic Reporting events"])

SNIPPET_PATH = "/events/v2/tallybook.js"
SNIPPET = (resources.files("tallybook.events") / "static" / "tallybook.js").read_bytes()
SNIPPET_TYPE = "text/javascript; charset=utf-8"
SNIPPET_CACHE = "public, max-age=3600"
"""Pages load it on every visit: an hour of caching, so an upgrade reaches them soon."""

V1_SOURCES = (EventSource.UNTRUSTED, EventSource.TRUSTED)
"""giosg's older endpoint had no ``external`` source."""

BROWSER_PATHS = frozenset(
    {
        f"/events/v2/store/{EventSource.UNTRUSTED}",
        f"/events/v1/store/{EventSource.UNTRUSTED}",
        SNIPPET_PATH,
    }
)
"""Paths web pages on any origin may use (CORS): ingestion that needs no token, and the
snippet that sends to it."""

SourcePath = Annotated[
    str,
    Path(
        description="Who sends the events; any other value is 404.",
        json_schema_extra={"enum": [str(source) for source in EventSource]},
    ),
]
"""Documented as the enum it is; checked by ``service.check_source`` (404, not 400)."""

V1SourcePath = Annotated[
    str,
    Path(
        description="Who sends the event; any other value is 404.",
        json_schema_extra={"enum": [str(source) for source in V1_SOURCES]},
    ),
]

BROWSER_TYPES = JSON | {"text/plain"}
"""What browsers send: ``navigator.sendBeacon`` with a string body is ``text/plain``, a
type a page may also choose to avoid a preflight. The body is read as JSON either way."""

SENDING = (
    "`untrusted` needs no token (browsers), but each event's organisation must exist "
    "and be active; `trusted` needs a token of the events' organisation. The body is JSON, "
    "sent as `application/json`; `untrusted` also takes `text/plain` (what "
    "`navigator.sendBeacon` sends) and may be called from any web origin (CORS). "
    "An event without `timestamp` gets the time it was received."
)


@router.post(
    "/events/v2/store/{source}",
    response_model=IngestResult,
    summary="Store a batch of events, or one event (atomic; idempotent by event id)",
    description=(
        'The body is `{"events": [...]}` or one event object. `external` is like '
        f"`trusted`. At most 10,000 events or 10 MB per request. {SENDING}"
    ),
    responses=error_responses(400, 401, 403, 404, 413),
    openapi_extra=raw_json_body(IngestBody, also=("text/plain",)),
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
    return await _store(request, source, session, store, header, query_token)


@router.post(
    "/events/v1/store/{source}",
    response_model=IngestResult,
    summary="Store one event (giosg's older endpoint; idempotent by event id)",
    description=f"The body is one event object. {SENDING}",
    responses=error_responses(400, 401, 403, 404, 413),
    openapi_extra=raw_json_body(IncomingEvent, also=("text/plain",)),
)
async def store_event(
    request: Request,
    source: V1SourcePath,
    session: DBSession,
    store: EventStoreDep,
    header: TokenHeader = None,
    query_token: TokenQuery = None,
) -> IngestResult:
    service.check_source(source, V1_SOURCES)
    return await _store(request, source, session, store, header, query_token, BodyShape.EVENT)


async def _store(
    request: Request,
    source: str,
    session: Session,
    store: EventStore,
    header: str | None,
    query_token: str | None,
    shape: BodyShape = BodyShape.BATCH_OR_EVENT,
) -> IngestResult:
    principal = None
    if source != EventSource.UNTRUSTED:
        principal = await known_principals(request).principal(header, query_token)
    # The depth is checked by the service, only for a body the plain path does not take.
    body = await read_body(request, BROWSER_TYPES if principal is None else JSON, nesting=False)
    now = datetime.now(UTC)
    subscriptions = request.app.state.subscriptions
    return await run_in_threadpool(
        service.ingest, session, store, source, body, principal, subscriptions, now, shape
    )


def _preflight_route(path: str) -> Callable[[DecoratedCallable], DecoratedCallable]:
    return router.options(
        path,
        status_code=status.HTTP_204_NO_CONTENT,
        response_class=Response,
        summary="CORS preflight of a web page that sends events",
        description=(
            "`untrusted` answers any origin: `POST`, with `Content-Type` and the usual "
            "request headers, no credentials. The other sources are for servers, not web pages."
        ),
        responses=error_responses(404),
    )


@_preflight_route("/events/v2/store/{source}")
async def preflight_events(source: SourcePath) -> Response:
    return _preflight(service.check_source(source))


@_preflight_route("/events/v1/store/{source}")
async def preflight_event(source: V1SourcePath) -> Response:
    return _preflight(service.check_source(source, V1_SOURCES))


def _preflight(source: str) -> Response:
    headers = {"Allow": "OPTIONS, POST"}
    if source == EventSource.UNTRUSTED:
        headers.update(PUBLIC_CORS_HEADERS)
    return Response(status_code=status.HTTP_204_NO_CONTENT, headers=headers)


@router.get(
    SNIPPET_PATH,
    response_class=Response,
    summary="The JavaScript snippet that sends events from a web page",
    description=(
        "Include it with a `<script>` tag; it sends events to `untrusted` with "
        "`navigator.sendBeacon`, falling back to `fetch` with `keepalive`, batching the "
        "events of one tick. See docs/api.md."
    ),
    responses={200: {"content": {"text/javascript": {"schema": {"type": "string"}}}}},
)
def snippet() -> Response:
    return Response(SNIPPET, media_type=SNIPPET_TYPE, headers={"Cache-Control": SNIPPET_CACHE})


@router.post(
    "/api/events/v2/orgs/{org_id}/fetch",
    response_model=FetchResponse,
    summary="Query events: buckets, groups, aggregations and filters",
    responses=error_responses(400, 401, 403, 406),
    openapi_extra=raw_json_body(FetchRequest),
)
async def fetch_events(
    request: Request, principal: ReportingUser, store: EventStoreDep
) -> Response:
    query = service.parse_fetch(await read_json(request))
    result = await run_in_threadpool(service.fetch, store, principal, query)
    # The rows are already JSON-ready (text, numbers, null): written by orjson, not
    # validated again against FetchResponse, which cost more than the query on large answers.
    body = orjson.dumps({"fields": result.fields, "data": result.data})
    return Response(body, media_type="application/json")
