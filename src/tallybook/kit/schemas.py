"""Base classes and field types shared by every domain's Pydantic schemas."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Final

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema
from pydantic_core import PydanticCustomError

from tallybook.kit import instants


def format_timestamp(value: datetime) -> str:
    """ISO 8601 in UTC with milliseconds and a ``Z``: ``2021-04-01T10:10:57.242Z``."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


_NUMBER_TEXT: Final = re.compile(r"\s*[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][+-]?[0-9]+)?\s*")


def _timestamp_text(value: Any) -> Any:
    """Timestamps arrive as ISO 8601 text; a number or a boolean is not one, nor is a number
    written as text (Pydantic would read either as seconds, or milliseconds, since 1970). A
    ``datetime`` is let through for Python callers."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and not _NUMBER_TEXT.fullmatch(value):
        return value
    raise PydanticCustomError(
        "timestamp_type", "must be an ISO 8601 date-time string, such as 2021-04-01T10:10:57Z"
    )


def _supported_utc(value: datetime) -> datetime:
    """In UTC (a naive value is UTC) and inside the supported range of instants."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    try:
        value = value.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:00-05:00 is in the year 10000 in UTC
        value = instants.END
    if not instants.is_supported(value):
        raise PydanticCustomError("timestamp_range", instants.RANGE_SENTENCE)
    return value


Timestamp = Annotated[
    datetime,
    PlainSerializer(format_timestamp, return_type=str, when_used="json"),
]
"""A timestamp in responses."""

InputTimestamp = Annotated[
    datetime, BeforeValidator(_timestamp_text), AfterValidator(_supported_utc)
]
"""A timestamp in payloads: ISO 8601 text with any offset (a naive one is UTC), inside the
supported range (``kit.instants``); returned in UTC."""


def _not_boolean(value: Any) -> Any:
    if isinstance(value, bool):
        raise PydanticCustomError("number_type", "must be a number, not a boolean")
    return value


NotBoolean = BeforeValidator(_not_boolean)
"""For a number field that stays lax otherwise (numeric strings accepted): ``true`` is not
a number, though Pydantic would read it as 1."""


def _read_only(_value: Any) -> Any:
    raise PydanticCustomError("read_only", "This field is read-only.")


ReadOnly = SkipJsonSchema[Annotated[Any, BeforeValidator(_read_only), Field(default=None)]]
"""Declares a response field that a payload may not set: giving it is a 400."""


class OutputModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class StorableText(BaseModel):
    """A model whose every text, however deeply nested, can be stored: no NUL character
    (PostgreSQL cannot store it in text) and no unpaired surrogate (no store can encode
    it). Checked before field validation, so the error names the field whatever its type."""

    @model_validator(mode="before")
    @classmethod
    def _no_nul_characters(cls, data: Any) -> Any:
        return refuse_unstorable_text(data)


def refuse_unstorable_text(data: Any) -> Any:
    """``data`` unchanged, or a ``nul_character`` error whose context has the path to the
    first text holding a NUL character or an unpaired surrogate."""
    path = _nul_path(data)
    if path is not None:
        where = ".".join(str(p) for p in path) or "the body"
        raise PydanticCustomError(
            "nul_character",
            "Text may not contain NUL characters or unpaired surrogates (in {where}).",
            {"where": where, "path": list(path)},
        )
    return data


class InputModel(StorableText):
    """A request payload: unknown fields are rejected, read-only ones too, and text that
    cannot be stored (:class:`StorableText`)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)

    def provided(self) -> dict[str, Any]:
        """The fields the client actually sent (for partial updates), read-only excluded."""
        read_only = {name for name, info in type(self).model_fields.items() if _is_read_only(info)}
        return {
            name: getattr(self, name) for name in self.model_fields_set if name not in read_only
        }


def _encodable(text: str) -> bool:
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # an unpaired surrogate from a JSON escape
        return False
    return True


def _nul_path(value: Any, path: tuple[str | int, ...] = ()) -> tuple[str | int, ...] | None:
    if isinstance(value, str):
        return path if "\x00" in value or not _encodable(value) else None
    items: Any = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else ()
    )
    for key, child in items:
        found = _nul_path(child, (*path, key))
        if found is not None:
            return found
    return None


def _is_read_only(info: Any) -> bool:
    return any(getattr(m, "func", None) is _read_only for m in info.metadata)


class ResourceReadOnly(InputModel):
    """Response fields common to every stored resource."""

    id: ReadOnly
    organization_id: ReadOnly
    created_at: ReadOnly
    modified_at: ReadOnly
    updated_at: ReadOnly
