"""What a notification says: the card, as data.

A card is built when a notification is queued and stored with it (the outbox row's
``card``), so what is delivered — and shown in the log — does not change if the target is
edited before delivery. Rendering to text, HTML, Slack blocks and a PNG chart lives in
``notifications.cards.render``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from tallybook.kit.schemas import format_timestamp


class NotificationKind(StrEnum):
    """What a card (and its outbox row, column ``kind``) reports."""

    ALERT = "alert"  # an ongoing check found the target reached (LOWER) or broken (UPPER)
    SNAPSHOT = "snapshot"  # a notification period closed: its closed reporting periods


@dataclass(frozen=True)
class PeriodLine:
    """One reporting period on a card: its value and how it compares."""

    start: datetime  # aware, UTC
    end: datetime  # aware, UTC, exclusive (for an alert: the instant of the check)
    value: float
    status: str  # LOWER: "reached" | "not reached"; UPPER: "holds" | "broken"
    previous_value: float | None = None  # the period before, when it was evaluated

    @property
    def change(self) -> float | None:
        return None if self.previous_value is None else self.value - self.previous_value

    @property
    def change_ratio(self) -> float | None:
        """Relative change against the period before; None when that was 0 or unknown."""
        if self.previous_value is None or self.previous_value == 0:
            return None
        return (self.value - self.previous_value) / abs(self.previous_value)


@dataclass(frozen=True)
class ChartPoint:
    start: datetime  # aware, UTC
    value: float


@dataclass(frozen=True)
class Card:
    kind: NotificationKind
    organization: str
    workflow: str
    target: str
    timezone: str  # IANA name; periods are shown in this zone
    reporting_period: str  # e.g. "P1D"
    threshold: float
    bound: str  # "LOWER" | "UPPER"
    lines: tuple[PeriodLine, ...]  # alert: the current period; snapshot: the closed ones
    chart: tuple[ChartPoint, ...] = field(default=())  # recent periods, oldest first

    @property
    def headline(self) -> PeriodLine:
        return self.lines[-1]

    def to_json(self) -> dict[str, Any]:
        """Instants as the API shows them (DESIGN §3)."""
        data = asdict(self)
        data["kind"] = str(self.kind)  # the stored value, a plain string
        for line in data["lines"]:
            line["start"] = format_timestamp(line["start"])
            line["end"] = format_timestamp(line["end"])
        for point in data["chart"]:
            point["start"] = format_timestamp(point["start"])
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Card:
        """Reads both ``…000Z`` and the ``+00:00`` form of cards stored before it."""
        lines = tuple(
            PeriodLine(
                start=datetime.fromisoformat(line["start"]),
                end=datetime.fromisoformat(line["end"]),
                value=float(line["value"]),
                status=line["status"],
                previous_value=line.get("previous_value"),
            )
            for line in data["lines"]
        )
        chart = tuple(
            ChartPoint(datetime.fromisoformat(p["start"]), float(p["value"]))
            for p in data.get("chart", ())
        )
        fields = {k: v for k, v in data.items() if k not in ("lines", "chart")}
        fields["kind"] = NotificationKind(fields["kind"])
        return cls(lines=lines, chart=chart, **fields)
