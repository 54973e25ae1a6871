"""The query string of the analytics: every parameter checked, every problem a 400 that
names it (``loc: ["query", name]``), before anything is looked up."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final, TypeVar
from zoneinfo import ZoneInfo

from pydantic import TypeAdapter, ValidationError

from tallybook.kit.errors import InvalidPayload
from tallybook.kit.schemas import InputTimestamp
from tallybook.kit.timezones import check_timezone
from tallybook.saferme.analytics.buckets import Width
from tallybook.saferme.ids import MAX_ID

_ISO: Final = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
    r"(?:[Tt ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:[.,][0-9]{1,9})?)?"
    r"(?:[Zz]|[+-][0-9]{2}(?::?[0-9]{2})?)?)?"
)
_SPACED_OFFSET: Final = re.compile(r"(.*[0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:[.,][0-9]+)?)?) ([0-9:]+)")
_HOUR_OFFSET: Final = re.compile(r".*[0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:[.,][0-9]+)?)?[+-][0-9]{2}")
"""A time with an offset of hours alone (``…T00:00:00-05``), which ISO 8601 allows."""
_INSTANT: Final = TypeAdapter(InputTimestamp)

UTC_ZONE: Final = ZoneInfo("UTC")

E = TypeVar("E", bound=StrEnum)


def _query_error(name: str, msg: str) -> dict[str, object]:
    return {"loc": ["query", name], "msg": msg}


def parse_instant(raw: str, name: str) -> tuple[datetime | None, dict[str, object] | None]:
    """An ISO 8601 date or date-time (a naive one is UTC). An offset's ``+`` sent unescaped
    in a URL arrives as a space; it is read as the ``+`` it was."""
    text = raw
    spaced = _SPACED_OFFSET.fullmatch(text)
    if spaced is not None:
        text = f"{spaced.group(1)}+{spaced.group(2)}"
    if _HOUR_OFFSET.fullmatch(text) is not None:
        text += ":00"
    if _ISO.fullmatch(text) is None:
        return None, _query_error(
            name, "must be an ISO 8601 timestamp, such as 2016-11-07T00:00:00Z"
        )
    try:
        return _INSTANT.validate_python(text.replace(",", ".")), None
    except ValidationError as exc:
        return None, _query_error(name, str(exc.errors()[0]["msg"]).removeprefix("Value error, "))


def parse_id(raw: str, name: str) -> tuple[int | None, dict[str, object] | None]:
    """An integer id; one no row can have (0, or past the largest) is kept as 0, which
    names nothing: it is then a 404 like any id of another team."""
    if not (raw.isascii() and raw.isdigit()):
        return None, _query_error(name, "must be an integer id")
    value = int(raw)
    return (value if 1 <= value <= MAX_ID else 0), None


def parse_zone(raw: str | None) -> tuple[ZoneInfo, dict[str, object] | None]:
    if raw is None:
        return UTC_ZONE, None
    try:
        return check_timezone(raw), None
    except ValueError as exc:
        return UTC_ZONE, _query_error("time_zone", str(exc))


def parse_width(raw: str | None) -> tuple[Width | None, dict[str, object] | None]:
    if raw is None:
        return None, None
    try:
        return Width(raw), None
    except ValueError:
        choices = ", ".join(Width)
        return None, _query_error("width", f"must be one of {choices}")


def parse_fields(
    raw: Sequence[str] | None, kind: type[E]
) -> tuple[list[E], dict[str, object] | None]:
    """``fields=a,b`` (or repeated): the names asked for, in the seed's order, each once;
    none asked for is the first."""
    names = [name for item in raw or () for name in item.split(",") if name]
    known = {str(member): member for member in kind}
    unknown = [name for name in names if name not in known]
    if unknown:
        choices = ", ".join(known)
        return [], _query_error("fields", f"unknown field '{unknown[0]}'; choose from {choices}")
    wanted = {known[name] for name in names} or {next(iter(kind))}
    return [member for member in kind if member in wanted], None


@dataclass(frozen=True)
class Window:
    """The three parameters every analytics endpoint requires."""

    channel_id: int
    start: datetime
    end: datetime


def check(errors: Sequence[dict[str, object] | None]) -> None:
    """One 400 listing every problem found."""
    found = [error for error in errors if error is not None]
    if found:
        raise InvalidPayload(found)


def window(channel_id: str, start_date: str, end_date: str) -> Window:
    channel, channel_error = parse_id(channel_id, "channel_id")
    start, start_error = parse_instant(start_date, "start_date")
    end, end_error = parse_instant(end_date, "end_date")
    check([channel_error, start_error, end_error])
    assert channel is not None and start is not None and end is not None
    if start >= end:
        check([_query_error("end_date", "must be after start_date")])
    return Window(channel, start, end)
