"""Numbers a client writes in ASCII digits: a body's declared length, a byte range."""

from __future__ import annotations

from typing import Final

BEYOND: Final = 10**18
"""The value of a number of more than 18 digits: past any length or position served."""


def digits_value(digits: str) -> int:
    """The value of ASCII ``digits``, or :data:`BEYOND` for more than 18 significant ones
    (never handed to ``int``, which refuses more than 4,300)."""
    significant = digits.lstrip("0") or "0"
    return int(significant) if len(significant) <= 18 else BEYOND
