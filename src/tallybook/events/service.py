"""Event ingestion and queries: validation, tenancy, and the calls into the event store."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Final, cast

import msgspec
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from tallybook.auth.principal import Principal
from tallybook.events.query.language import FILTER_TYPES, SOURCES, unknown_filter_types
from tallybook.events.query.results import FetchResult
from tallybook.events.records import EventRow, StoredEvent
from tallybook.events.schemas import (
    MAX_EVENTS_PER_BATCH,
    PLAIN_BODY,
    SCREEN_SIZES,
    BatchContext,
    FetchRequest,
    IncomingEvent,
    IngestBatch,
    IngestResult,
    text_number,
)
from tallybook.events.store import EventStore
from tallybook.kit import instants
from tallybook.kit.body import check_depth, parse_json
from tallybook.kit.errors import (
    InvalidPayload,
    NotAcceptable,
    NotFound,
    OrganizationForbidden,
    PayloadTooLarge,
    SubscriptionInactive,
    validation_errors,
)
from tallybook.kit.memory import Remembered
from tallybook.organizations.models import Organization

MAX_FUTURE = timedelta(hours=24)
_LONG_FRACTION: Final = re.compile(rb"\.\d{7}")
_LONG_SECONDS: Final = re.compile(rb":\d\d\.\d{7}")
_HIDING_ESCAPE: Final = re.compile(rb"\\u00(?:00|2[eE]|3)")


def _not_plain(body: bytes) -> bool:
    """What the plain path leaves to the model path, found on the raw bytes: a timestamp
    with more than 6 fractional digits (msgspec would round it; the model drops the extra
    digits), an escaped NUL (JSON can only spell NUL escaped; the model names the field),
    and an escaped dot or digit, which could hide such a timestamp from the search. Each
    search runs only when a cheaper one finds a candidate (a value with long decimals
    sends the first to the second)."""
    if _LONG_FRACTION.search(body) and _LONG_SECONDS.search(body):
        return True
    return b"\\u00" in body and _HIDING_ESCAPE.search(body) is not None


_KEPT: Final = (datetime,)
_ONE_MICROSECOND: Final = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class PlainBatch:
    events: list[EventRow]  # each with source and received_at set
    organizations: list[uuid.UUID]  # of each event, in order


def check_source(source: str, sources: Sequence[str] = SOURCES) -> str:
    if source not in sources:
        raise NotFound(f"No such event source; use one of {', '.join(sources)}.")
    return source


def parse_batch(body: bytes, source: str, now: datetime) -> list[IncomingEvent]:
    """The batch, validated as a whole: every bad event is listed by index and field."""
    try:
        batch = IngestBatch.model_validate_json(
            body, context=BatchContext(source, now + MAX_FUTURE)
        )
    except ValidationError as exc:
        if any(e["type"] == "too_long" and e["loc"] == ("events",) for e in exc.errors()):
            raise PayloadTooLarge(
                f"A batch may hold at most {MAX_EVENTS_PER_BATCH} events."
            ) from None
        raise InvalidPayload(_body_errors(exc)) from None
    return list(batch.events)


def parse_plain_batch(body: bytes, source: str, now: datetime) -> PlainBatch | None:
    """The common case of :func:`parse_batch`, checked by msgspec without an object per
    event; a plain batch is at most 3 levels deep, so it needs no depth check either.

    None when the batch is not plainly valid (a field error, a check across fields, or a
    rarer spelling such as an uppercase UUID); :func:`parse_batch` then decides, so errors
    and unusual inputs are handled in one place.
    """
    if _not_plain(body):
        return None
    try:
        decoded = PLAIN_BODY.decode(body).events
    except msgspec.DecodeError:  # a ValidationError too
        return None
    events = cast(list[dict[str, Any]], msgspec.to_builtins(decoded, builtin_types=_KEPT))
    limit = min(now + MAX_FUTURE, instants.END - _ONE_MICROSECOND)
    by_text: dict[str, uuid.UUID] = {}
    organizations = []
    for event in events:
        text = event["organization_id"]
        organization = by_text.get(text)
        if organization is None:
            organization = by_text[text] = uuid.UUID(text)
        organizations.append(organization)
        if event.get("source", source) not in (source, None):
            return None
        timestamp = event.get("timestamp")
        if timestamp is not None:
            if timestamp.tzinfo is None:
                timestamp = timestamp.replace(tzinfo=UTC)
            if not instants.EARLIEST <= timestamp <= limit:
                return None
        for name in SCREEN_SIZES:
            size = event.get(name)
            if size is not None and type(size) is not str:
                event[name] = text_number(size)
        event["source"] = source
        event["received_at"] = now
    return PlainBatch(list(events), organizations)


def check_organisations(
    session: Session,
    organizations: Sequence[uuid.UUID],
    principal: Principal | None,
    subscriptions: Remembered[uuid.UUID, bool],
) -> None:
    """Trusted sources: the caller's organisation only. Untrusted: it must exist and be
    active. ``organizations`` has each event's organisation, in order; ``subscriptions``
    remembers the organisations found lately (an unknown one is never remembered)."""
    org_ids = set(organizations)
    if principal is not None:
        if org_ids != {principal.organization_id}:
            raise OrganizationForbidden(
                "Events may only be sent for the organisation of the token."
            )
        return
    active: dict[uuid.UUID, bool] = {}
    for org_id in org_ids:
        known = subscriptions.get(org_id)
        if known is not None:
            active[org_id] = known
    if len(active) < len(org_ids):
        rows = session.execute(
            select(Organization.id, Organization.subscription_active).where(
                Organization.id.in_(org_ids - active.keys())
            )
        ).all()
        for row in rows:
            active[row.id] = row.subscription_active
            subscriptions.put(row.id, row.subscription_active)
    unknown = [
        {"loc": ["body", "events", i, "organization_id"], "msg": "No such organisation."}
        for i, organization in enumerate(organizations)
        if organization not in active
    ]
    if unknown:
        raise InvalidPayload(unknown)
    if not all(active.values()):
        raise SubscriptionInactive("The organisation has no active subscription.")


def to_stored(events: Sequence[IncomingEvent], source: str, now: datetime) -> list[StoredEvent]:
    stored = []
    for event in events:
        # The validated fields themselves (model_dump would re-serialise each value).
        fields = dict(event.__dict__)
        fields["source"] = source
        fields["received_at"] = now
        fields["timestamp"] = event.timestamp or now
        fields["properties"] = tuple(event.properties)
        fields["partner_organization_ids"] = tuple(event.partner_organization_ids)
        stored.append(StoredEvent(**fields))
    return stored


class BodyShape(StrEnum):
    """What a request body holds."""

    BATCH_OR_EVENT = "batch_or_event"
    """``/events/v2``: ``{"events": [...]}``, or one event object (giosg's own tool)."""
    EVENT = "event"
    """``/events/v1``: one event object per body."""


def ingest(
    session: Session,
    store: EventStore,
    source: str,
    body: bytes,
    principal: Principal | None,
    subscriptions: Remembered[uuid.UUID, bool],
    now: datetime,
    shape: BodyShape = BodyShape.BATCH_OR_EVENT,
) -> IngestResult:
    """Store a body's events, all or none; the answer counts stored and duplicate events.

    A batch goes straight to the plain path. One event object is stored as a batch of one
    (the same checks, defaults and limits), its errors named by the event's own fields.
    """
    plain = None if shape is BodyShape.EVENT else parse_plain_batch(body, source, now)
    if plain is None:
        check_depth(body)  # a plain batch nests 3 deep; anything else, before it is parsed
    single = shape is BodyShape.EVENT or (plain is None and _one_event(body))
    if not single:
        return _ingest_batch(session, store, source, body, principal, subscriptions, now, plain)
    batch = _batch_of_one(body, source)
    try:
        plain = parse_plain_batch(batch, source, now)
        return _ingest_batch(session, store, source, batch, principal, subscriptions, now, plain)
    except InvalidPayload as exc:
        raise InvalidPayload(_unbatched(exc.errors or [])) from None


def _ingest_batch(
    session: Session,
    store: EventStore,
    source: str,
    body: bytes,
    principal: Principal | None,
    subscriptions: Remembered[uuid.UUID, bool],
    now: datetime,
    plain: PlainBatch | None,
) -> IngestResult:
    if plain is not None:
        check_organisations(session, plain.organizations, principal, subscriptions)
        result = store.insert_plain(plain.events)
    else:
        events = parse_batch(body, source, now)
        organizations = [event.organization_id for event in events]
        check_organisations(session, organizations, principal, subscriptions)
        result = store.insert(to_stored(events, source, now))
    return IngestResult(stored=result.stored, duplicates=result.duplicates)


def _one_event(body: bytes) -> bool:
    """A JSON object that is not a batch: one event (an event has no field ``events``).
    Anything else, invalid JSON included, is left to the batch path to explain."""
    try:
        parsed = parse_json(body)
    except InvalidPayload:
        return False
    return isinstance(parsed, dict) and "events" not in parsed


def _batch_of_one(body: bytes, source: str) -> bytes:
    """``{"events": [body]}``, once ``body`` is known to be one JSON object (so the result
    is a valid batch of exactly that event)."""
    parsed = parse_json(body)
    if not isinstance(parsed, dict):
        raise InvalidPayload([{"loc": ["body"], "msg": "The body must be one event object."}])
    if "events" in parsed:
        raise InvalidPayload(
            [
                {
                    "loc": ["body", "events"],
                    "msg": f"One event per body here; send batches to /events/v2/store/{source}.",
                }
            ]
        )
    return b'{"events":[' + body + b"]}"


def _unbatched(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Errors of a batch of one, located in the event object that was sent."""
    prefix = ["body", "events", 0]
    return [
        {**error, "loc": ["body", *error["loc"][3:]]} if list(error["loc"][:3]) == prefix else error
        for error in errors
    ]


def parse_fetch(raw: Any) -> FetchRequest:
    unknown = unknown_filter_types(raw.get("filters")) if isinstance(raw, dict) else set()
    if unknown:
        raise NotAcceptable(
            f"Unknown filter type {sorted(unknown)[0]!r}; known types: {', '.join(FILTER_TYPES)}."
        )
    try:
        return FetchRequest.model_validate(raw)
    except ValidationError as exc:
        raise InvalidPayload(_body_errors(exc)) from None


def fetch(store: EventStore, principal: Principal, request: FetchRequest) -> FetchResult:
    time_zone = request.interval.time_zone or principal.organization.timezone
    return store.fetch(principal.organization_id, request, request.interval, time_zone)


def _body_errors(exc: ValidationError) -> list[dict[str, Any]]:
    return validation_errors(exc.errors(), "body")
