"""Schema pieces every v4 entity shares."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field
from pydantic.json_schema import SkipJsonSchema

from tallybook.kit.errors import InvalidPayload

NOT_BLANK = "^[^\\x00]*\\S[^\\x00]*$"
"""Some character that is not a space, and no NUL."""

Name = Annotated[str, Field(min_length=1, max_length=255, pattern=NOT_BLANK)]
"""A name: 1 to 255 characters, not only spaces."""

NotNull = SkipJsonSchema[None]
"""``X | NotNull = None`` in a PATCH: the field may be left out but not set to null."""

LongText = Annotated[str, Field(max_length=10_000)]


def refuse_nulls(changes: dict[str, Any], names: tuple[str, ...], where: str) -> None:
    """A PATCH may leave a required field out, not set it to null."""
    errors = [
        {"loc": ["body", where, name], "msg": "This field may not be null."}
        for name in names
        if name in changes and changes[name] is None
    ]
    if errors:
        raise InvalidPayload(errors)
