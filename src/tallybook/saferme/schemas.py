"""Schema pieces every v4 entity shares."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, Field

from tallybook.kit.errors import InvalidPayload


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


Name = Annotated[str, Field(min_length=1, max_length=255), AfterValidator(_not_blank)]
"""A name: 1 to 255 characters, not only spaces."""

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
