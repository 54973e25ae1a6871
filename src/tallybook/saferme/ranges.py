"""SaferMe's pagination: ``Range: objects=A-B`` in, ``Content-Range: <resource> A-B/TOTAL``
out (``<resource> */TOTAL`` when the page is empty)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Final, TypeVar

from fastapi import Depends, Header, Response
from pydantic.json_schema import SkipJsonSchema
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

DEFAULT_SIZE: Final = 60
MAX_SIZE: Final = 100
_RANGE: Final = re.compile(r"objects=([0-9]{1,9})-([0-9]{1,9})?")

T = TypeVar("T")


@dataclass(frozen=True)
class ObjectRange:
    offset: int
    limit: int


def object_range(
    range_: Annotated[
        str | SkipJsonSchema[None],
        Header(
            alias="Range",
            description="`objects=A-B` (from 0, inclusive): items A to B, at most "
            f"{MAX_SIZE}; default (and for a Range of any other form) "
            f"`objects=0-{DEFAULT_SIZE - 1}`.",
        ),
    ] = None,
) -> ObjectRange:
    """The requested items; a range of more than :data:`MAX_SIZE` is cut to that many, and
    one whose last item comes before its first selects none (an empty page).

    A ``Range`` that is not ``objects=A-B`` (another unit, several ranges) is ignored, as
    HTTP has servers do with a range they do not understand: the first page is sent."""
    match = _RANGE.fullmatch(range_) if range_ is not None else None
    if match is None:
        return ObjectRange(0, DEFAULT_SIZE)
    first = int(match.group(1))
    last = int(match.group(2)) if match.group(2) is not None else first + DEFAULT_SIZE - 1
    return ObjectRange(first, max(0, min(last - first + 1, MAX_SIZE)))


RangeHeader = Annotated[ObjectRange, Depends(object_range)]


def fetch_page(
    session: Session, stmt: Select[Any], order: Sequence[Any], page: ObjectRange
) -> tuple[list[Any], int]:
    """One page of ``stmt`` in ``order`` and the number of rows in all."""
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    rows = list(session.execute(stmt.order_by(*order).offset(page.offset).limit(page.limit)))
    return rows, int(total or 0)


def content_range(resource: str, offset: int, count: int, total: int) -> str:
    if count == 0:
        return f"{resource} */{total}"
    return f"{resource} {offset}-{offset + count - 1}/{total}"


def ranged(
    response: Response, resource: str, page: ObjectRange, items: list[T], total: int
) -> list[T]:
    """``items`` as the body, with the ``Content-Range`` header set on ``response``."""
    response.headers["Content-Range"] = content_range(resource, page.offset, len(items), total)
    return items
