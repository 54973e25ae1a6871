"""Cursor pages ``{next, previous, results}``, newest first, as giosg's v5 collections.

The cursor is an opaque token holding the position (created_at, id) of the row it
continues from and the direction; the order is stable under concurrent inserts.
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

import orjson
from fastapi import Depends, Query, Request
from pydantic import BaseModel
from sqlalchemy import Select, and_, or_
from sqlalchemy.orm import InstrumentedAttribute, Session

from tallybook.kit.errors import BadRequest

T = TypeVar("T")

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000


class CursorPage(BaseModel, Generic[T]):
    next: str | None
    previous: str | None
    results: list[T]


@dataclass(frozen=True)
class Cursor:
    forward: bool
    created_at: datetime
    id: uuid.UUID

    def encode(self) -> str:
        raw = orjson.dumps({"f": self.forward, "t": self.created_at.isoformat(), "i": self.id.hex})
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> Cursor:
        try:
            raw = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
            return cls(bool(raw["f"]), datetime.fromisoformat(raw["t"]), uuid.UUID(raw["i"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise BadRequest("The cursor is not one this server gave out.") from exc


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
    return PageParams(Cursor.decode(cursor) if cursor else None, page_size, request)


PageQuery = Annotated[PageParams, Depends(page_params)]
"""The ``cursor`` and ``page_size`` query parameters of a listing endpoint."""


def paginate(
    session: Session,
    stmt: Select[Any],
    created_at: InstrumentedAttribute[Any],
    id_: InstrumentedAttribute[Any],
    params: PageParams,
) -> PageResult:
    """One page of ``stmt`` newest first, with the links to the neighbouring pages."""
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
        last = rows[-1]
        next_link = _link(params, Cursor(True, last.created_at, last.id))
    if rows and has_previous:
        first = rows[0]
        prev_link = _link(params, Cursor(False, first.created_at, first.id))
    return rows, next_link, prev_link


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
    return str(url.include_query_params(cursor=cursor.encode()))
