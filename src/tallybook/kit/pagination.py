"""Cursor pages ``{next, previous, results}``, newest first, as giosg's v5 collections.

The cursor is an opaque token holding the position (created_at, id) of the row it
continues from and the direction; the order is stable under concurrent inserts. It is
signed with the installation's secret key (HMAC-SHA256, ``kit.signing``), so a cursor this
server did not give out is refused before its content is read.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Generic, TypeVar

import orjson
from fastapi import Depends, Query, Request
from pydantic import BaseModel
from sqlalchemy import Select, and_, or_
from sqlalchemy.orm import InstrumentedAttribute, Session

from tallybook.kit.errors import BadRequest
from tallybook.kit.signing import BadSignature, Signer, derive_key

T = TypeVar("T")

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000

FORGED = "The cursor is not one this server gave out."
_KEY_PURPOSE = b"tallybook/cursor/v1"


class CursorPage(BaseModel, Generic[T]):
    next: str | None
    previous: str | None
    results: list[T]


@dataclass(frozen=True)
class Cursor:
    forward: bool
    created_at: datetime
    id: uuid.UUID

    def encode(self, key: bytes) -> str:
        """``<payload>.<signature>``, both base64url without padding (``kit.signing``)."""
        raw = orjson.dumps({"f": self.forward, "t": self.created_at.isoformat(), "i": self.id.hex})
        return Signer(key).sign(raw)

    @classmethod
    def decode(cls, token: str, key: bytes) -> Cursor:
        """The cursor ``token`` holds; 400 unless this server signed it with ``key``.

        The signature is checked (in constant time) before the payload is parsed, so a
        forged payload never reaches the parser or the query.
        """
        try:
            raw = Signer(key).unsign(token)
        except BadSignature:
            raise BadRequest(FORGED) from None
        try:
            data = orjson.loads(raw)
            created_at = datetime.fromisoformat(data["t"]).astimezone(UTC)
            return cls(bool(data["f"]), created_at, uuid.UUID(data["i"]))
        except (ValueError, KeyError, TypeError, OverflowError) as exc:
            raise BadRequest(FORGED) from exc


def cursor_key(secret: str) -> bytes:
    """The key cursors are signed with, derived from the installation's secret key so that
    a cursor's signature can never stand for anything else the secret signs."""
    return derive_key(secret, _KEY_PURPOSE)


def _request_key(request: Request) -> bytes:
    """The app's cursor key, derived once from ``settings.signing_key()``."""
    state = request.app.state
    key: bytes | None = getattr(state, "cursor_key", None)
    if key is None:
        key = state.cursor_key = cursor_key(state.settings.signing_key())
    return key


@dataclass(frozen=True)
class PageParams:
    cursor: Cursor | None
    size: int
    request: Request


def page_params(
    request: Request,
    cursor: Annotated[
        str | None, Query(description="Opaque cursor from `next`/`previous`.")
    ] = None,
    page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
) -> PageParams:
    decoded = Cursor.decode(cursor, _request_key(request)) if cursor else None
    return PageParams(decoded, page_size, request)


PageQuery = Annotated[PageParams, Depends(page_params)]
"""The ``cursor`` and ``page_size`` query parameters of a listing endpoint."""


def paginate(
    session: Session,
    stmt: Select[Any],
    created_at: InstrumentedAttribute[Any],
    id_: InstrumentedAttribute[Any],
    params: PageParams,
) -> PageResult:
    """One page of ``stmt`` newest first, with the links to the neighbouring pages.

    ``created_at`` is the column the rows are ordered by (a history orders by its period's
    start), ``id_`` the tie-break; the cursors hold the row's values of those two.
    """
    cur = params.cursor
    forward = cur is None or cur.forward
    if cur is not None:
        after = (
            or_(created_at < cur.created_at, and_(created_at == cur.created_at, id_ < cur.id))
            if forward
            else or_(created_at > cur.created_at, and_(created_at == cur.created_at, id_ > cur.id))
        )
        stmt = stmt.where(after)
    order = (created_at.desc(), id_.desc()) if forward else (created_at.asc(), id_.asc())
    rows = list(session.scalars(stmt.order_by(*order).limit(params.size + 1)))
    more = len(rows) > params.size
    rows = rows[: params.size]
    if not forward:
        rows.reverse()
    has_next = more if forward else True
    has_previous = (cur is not None) if forward else more
    next_link = prev_link = None
    if rows and has_next:
        next_link = _link(params, _position(True, rows[-1], created_at, id_))
    if rows and has_previous:
        prev_link = _link(params, _position(False, rows[0], created_at, id_))
    return rows, next_link, prev_link


def _position(
    forward: bool,
    row: Any,
    created_at: InstrumentedAttribute[Any],
    id_: InstrumentedAttribute[Any],
) -> Cursor:
    """The cursor at ``row``: its values of the two columns the page is ordered by."""
    return Cursor(forward, getattr(row, created_at.key), getattr(row, id_.key))


PageResult = tuple[list[Any], str | None, str | None]
"""A page's rows with the links to its neighbours, as ``paginate`` returns them."""


def page_body(page: PageResult) -> dict[str, object]:
    rows, next_link, previous_link = page
    return {"next": next_link, "previous": previous_link, "results": rows}


def _link(params: PageParams, cursor: Cursor) -> str:
    base = params.request.app.state.settings.public_url
    url = params.request.url
    if base:
        url = url.replace(
            scheme=base.split("://", 1)[0], netloc=base.split("://", 1)[1].rstrip("/")
        )
    return str(url.include_query_params(cursor=cursor.encode(_request_key(params.request))))
