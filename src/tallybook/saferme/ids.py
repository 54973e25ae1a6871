"""Integer ids of the v4 API, in paths and in bodies."""

from __future__ import annotations

import re
from typing import Annotated, Any, Final

from pydantic import BeforeValidator, Field, WithJsonSchema
from pydantic_core import PydanticCustomError

from tallybook.kit.errors import InvalidPayload, NotFound

MAX_ID: Final = 2**31 - 1
"""The largest id an integer column holds; a larger one names nothing."""

_DIGITS: Final = re.compile(r"[1-9][0-9]{0,8}")


def _id_value(value: Any) -> Any:
    """A number, or text of digits exactly (what the OpenAPI pattern says)."""
    if isinstance(value, bool):
        raise PydanticCustomError("int_type", "must be an integer id, not a boolean")
    if isinstance(value, str):
        if not _DIGITS.fullmatch(value):
            raise PydanticCustomError("int_type", "must be a positive integer id")
        return int(value)
    return value


IntId = Annotated[
    int,
    BeforeValidator(_id_value),
    Field(ge=1, le=MAX_ID),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "integer", "minimum": 1, "maximum": MAX_ID},
                {"type": "string", "pattern": "^[1-9][0-9]{0,8}$"},
            ]
        }
    ),
]
"""An id in a body: a positive integer (a numeric string such as ``"12"`` is taken too,
as SaferMe's own examples send ``"account_id": "2222"``)."""


def parse_int_id(raw: str, what: str) -> int:
    """A path id; one that is not a positive integer names nothing, so it is a 404."""
    if raw.isascii() and raw.isdigit() and 1 <= int(raw) <= MAX_ID:
        return int(raw)
    raise NotFound(f"No such {what}.")


def query_int_id(raw: str | None, name: str, what: str) -> int | None:
    """An id in the query string: not an integer is 400; one no row can have is 404."""
    if raw is None:
        return None
    text = raw
    if not (text.isascii() and text.isdigit()):
        raise InvalidPayload([{"loc": ["query", name], "msg": "must be an integer id"}])
    return parse_int_id(text, what)


def query_int_ids(raw: list[str] | None, name: str, what: str) -> list[int] | None:
    """Ids given as ``name[]=1&name[]=2``, ``name=1&name=2`` or ``name=1,2``."""
    if raw is None:
        return None
    parts = [part for item in raw for part in item.split(",")]
    return [i for part in parts if (i := query_int_id(part, name, what)) is not None]


ID_QUERY: Final = {"pattern": "^[0-9]+$"}
"""The OpenAPI pattern of an id in a query string."""

IDS_QUERY: Final = {"items": {"type": "string", "pattern": "^[0-9]+(,[0-9]+)*$"}}
"""The OpenAPI schema of repeated ids in a query string (each may be comma-separated)."""
