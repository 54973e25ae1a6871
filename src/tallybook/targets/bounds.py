"""What a target's bound means (DESIGN §5), in one place.

A ``LOWER`` target is reached once the value is at least the threshold; an ``UPPER``
target holds while the value stays below it and is broken once it gets there. Either way,
getting to the threshold is what an ongoing check alerts on.
"""

from __future__ import annotations

from enum import StrEnum


class TargetBound(StrEnum):
    """``targets.reporting_bound`` and ``evaluations.bound``."""

    LOWER = "LOWER"
    UPPER = "UPPER"


class TargetStatus(StrEnum):
    """``evaluations.status`` and a card line's status."""

    REACHED = "reached"
    NOT_REACHED = "not reached"
    HOLDS = "holds"
    BROKEN = "broken"

    @property
    def is_reached(self) -> bool:
        """The target is met: a LOWER target reached, an UPPER target holding."""
        return self in (TargetStatus.REACHED, TargetStatus.HOLDS)


class Datasource(StrEnum):
    """``targets.reporting_datasource``; only the event store's is evaluated."""

    GENERIC_REPORTING = "GENERIC_REPORTING"
    CHAT_SESSIONS = "CHAT_SESSIONS"
    VISITOR_SESSIONS = "VISITOR_SESSIONS"


def is_alerting(value: float, threshold: float) -> bool:
    """The value got to the threshold: a LOWER target reached, an UPPER target broken."""
    return value >= threshold


def status_of(bound: str, value: float, threshold: float) -> TargetStatus:
    crossed = is_alerting(value, threshold)
    if bound == TargetBound.LOWER:
        return TargetStatus.REACHED if crossed else TargetStatus.NOT_REACHED
    return TargetStatus.BROKEN if crossed else TargetStatus.HOLDS


def is_reached(bound: str, value: float, threshold: float) -> bool:
    return status_of(bound, value, threshold).is_reached
