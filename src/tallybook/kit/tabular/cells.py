"""What a cell value becomes in a file, and text that cannot act as a formula.

Cells are ``str | int | float | bool | None | datetime``; anything else is written as its
``str()``, as text.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

Cell = str | int | float | bool | None | datetime

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
"""What a spreadsheet may read as the start of a formula (OWASP's CSV injection list)."""


def escape_formula(text: str) -> str:
    """``'`` before text that starts like a formula, so a spreadsheet shows it as text."""
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def iso_utc(value: datetime) -> str:
    """``2021-04-01T10:10:57.242Z``: the text of ``kit.schemas.format_timestamp``, made
    with the C ``isoformat`` (a fifth of the time; a download may hold millions)."""
    zone = value.tzinfo
    if zone is None:
        return value.isoformat(timespec="milliseconds") + "Z"
    if zone is not UTC:
        value = value.astimezone(UTC)
    return value.isoformat(timespec="milliseconds")[:-6] + "Z"


def utc_wall_clock(value: datetime) -> datetime:
    """The instant as a naive UTC date and time (a naive value is taken as UTC already)."""
    if value.tzinfo is None:
        return value
    return value.astimezone(UTC).replace(tzinfo=None)


class RowWidthError(ValueError):
    """A row with more or fewer cells than the header: a bug in the caller."""

    def __init__(self, number: int, width: int, header_width: int) -> None:
        super().__init__(f"Row {number} has {width} cells; the header has {header_width}.")


def check_width(row: Sequence[object], number: int, header_width: int) -> None:
    if len(row) != header_width:
        raise RowWidthError(number, len(row), header_width)


def close_rows(rows: Iterable[object]) -> None:
    """Close the row source if it can be (a generator, a database cursor's result), so a
    writer that stops early releases what the source holds at once, not when collected."""
    close = getattr(rows, "close", None)
    if callable(close):
        close()
