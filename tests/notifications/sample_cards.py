"""Cards for channel and rendering tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tallybook.notifications.cards import Card, ChartPoint, PeriodLine
from tallybook.targets.bounds import status_of

# Mon 2 Mar 2026 00:00 in Helsinki (EET, UTC+2).
MONDAY = datetime(2026, 3, 1, 22, 0, tzinfo=UTC)


def day_line(start: datetime, value: float, previous: float | None, **card: Any) -> PeriodLine:
    bound, threshold = card.get("bound", "LOWER"), card.get("threshold", 100.0)
    return PeriodLine(
        start=start,
        end=start + timedelta(days=1),
        value=value,
        status=status_of(bound, value, threshold),
        previous_value=previous,
    )


def chart(values: list[float], last_start: datetime = MONDAY) -> tuple[ChartPoint, ...]:
    count = len(values)
    return tuple(
        ChartPoint(last_start - timedelta(days=count - 1 - i), value)
        for i, value in enumerate(values)
    )


def snapshot(**overrides: Any) -> Card:
    """A one-day snapshot: 120 signups against "at least 100", 100 the day before."""
    values: dict[str, Any] = {
        "kind": "snapshot",
        "organization": "Acme Oy",
        "workflow": "Sales funnel",
        "target": "Daily signups",
        "timezone": "Europe/Helsinki",
        "reporting_period": "P1D",
        "threshold": 100.0,
        "bound": "LOWER",
        "lines": (day_line(MONDAY, 120, 100),),
        "chart": chart([80, 95, 130, 100, 120]),
    }
    values.update(overrides)
    return Card(**values)


def alert(**overrides: Any) -> Card:
    """An UPPER target broken during the day: 37 open tickets, "below 30"."""
    checked = MONDAY + timedelta(hours=14, minutes=35)  # 14:35 in Helsinki
    line = PeriodLine(MONDAY, checked, 37.0, "broken", previous_value=25.0)
    values: dict[str, Any] = {
        "kind": "alert",
        "organization": "Acme Oy",
        "workflow": "Support",
        "target": "Open tickets",
        "timezone": "Europe/Helsinki",
        "reporting_period": "P1D",
        "threshold": 30.0,
        "bound": "UPPER",
        "lines": (line,),
        "chart": chart([20, 28, 25, 37]),
    }
    values.update(overrides)
    return Card(**values)
