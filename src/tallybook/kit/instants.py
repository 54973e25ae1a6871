"""The instants Tallybook handles: 1970-01-01T00:00:00Z up to 3000-01-01T00:00:00Z.

Every timestamp that comes in (targets' active window, fetch intervals, events, chats and
messages) must lie in this range, and the calendar code clamps whatever it is given into
it. The longest period is ``P999Y``: from anywhere in the range, a period's start, end,
the period before it and a due time after it stay between the years 971 and 4000, far
inside what ``datetime`` and every store can represent in any time zone.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
"""The first supported instant."""
END = datetime(3000, 1, 1, tzinfo=UTC)
"""The first instant after the supported range (exclusive)."""
LATEST = END - timedelta(milliseconds=1)
"""The last supported instant at the API's precision: 2999-12-31T23:59:59.999Z."""

RANGE_SENTENCE = (
    "must be an instant from 1970-01-01T00:00:00Z to 2999-12-31T23:59:59.999Z (the supported range)"
)


def is_supported(instant: datetime) -> bool:
    """Whether an aware instant lies in the supported range."""
    return EARLIEST <= instant < END


def clamp(instant: datetime) -> datetime:
    """The aware instant, moved into the supported range if it lies outside."""
    return min(max(instant, EARLIEST), LATEST)
