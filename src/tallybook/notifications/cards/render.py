"""Cards as plain text, e-mail subject and HTML, Slack Block Kit blocks, and a PNG chart.

User text (workflow and target names) is escaped for each medium: ``html.escape`` for HTML,
``&``/``<``/``>`` for Slack mrkdwn. Periods are shown as calendar dates in the card's
timezone, with the zone's name; an alert's period is shown "so far", up to the check.
"""

from __future__ import annotations

import html
import io
import math
import threading
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.relativedelta import relativedelta

from tallybook.notifications.cards.data import Card, NotificationKind, PeriodLine
from tallybook.targets.bounds import status_of
from tallybook.targets.periods import parse_period

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTH_NAMES = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_BOUND_WORDS = {"LOWER": "at least", "UPPER": "below"}
_BAR_COLOURS = {
    "reached": "#2da44e",
    "holds": "#2da44e",
    "not reached": "#8c959f",
    "broken": "#cf222e",
}

# Slack Block Kit limits (https://docs.slack.dev/reference/block-kit/blocks).
_SLACK_HEADER_CHARS = 150
_SLACK_SECTION_CHARS = 3000
_SLACK_MAX_BLOCKS = 50
_SLACK_FALLBACK_CHARS = 3900
_NAME_CHARS = 255  # workflow and target names are at most 255 characters (DESIGN §5)


# --- numbers, dates and phrases -----------------------------------------------------------


def format_number(value: float) -> str:
    if not math.isfinite(value):
        return str(value)
    if value == int(value) and abs(value) < 1e15:
        return f"{int(value):,}"
    if abs(value) >= 1:
        return f"{value:,.2f}".rstrip("0").rstrip(".")
    return f"{value:.3g}"


def bound_text(card: Card) -> str:
    """The target as a phrase: LOWER "at least 100", UPPER "below 100"."""
    return f"{_BOUND_WORDS.get(card.bound, card.bound)} {format_number(card.threshold)}"


def change_text(line: PeriodLine) -> str:
    change, previous = line.change, line.previous_value
    if change is None or previous is None:
        return "no previous period"
    if change == 0:
        return f"unchanged from the previous period ({format_number(previous)})"
    sign = "+" if change > 0 else "-"
    text = f"{sign}{format_number(abs(change))}"
    ratio = line.change_ratio
    if ratio is not None:
        text += f" ({sign}{abs(ratio) * 100:.1f}%)"
    return f"{text} vs the previous period ({format_number(previous)})"


def _zone(card: Card) -> ZoneInfo:
    try:
        return ZoneInfo(card.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _day(day: date, *, year: bool = True) -> str:
    text = f"{_DAYS[day.weekday()]} {day.day} {_MONTHS[day.month - 1]}"
    return f"{text} {day.year}" if year else text


def _month(day: date, *, year: bool = True) -> str:
    name = _MONTH_NAMES[day.month - 1]
    return f"{name} {day.year}" if year else name


def _day_range(first: date, last: date) -> str:
    if first == last:
        return _day(first)
    return f"{_day(first, year=first.year != last.year)} – {_day(last)}"


def _unit(card: Card) -> tuple[int, str] | None:
    try:
        return parse_period(card.reporting_period)
    except ValueError:
        return None


def _span(first: date, last: date, unit: tuple[int, str] | None) -> str:
    """Local dates ``first``..``last`` (inclusive) named as the calendar period they are."""
    n, letter = unit if unit else (0, "")
    if letter == "W" and n == 1:
        return f"week {first.isocalendar().week}, {_day_range(first, last)}"
    if letter == "M" and first.day == 1:
        if (first.year, first.month) == (last.year, last.month):
            return _month(first)
        return f"{_month(first, year=first.year != last.year)} – {_month(last)}"
    if letter == "Y" and (first.month, first.day) == (1, 1):
        return str(first.year) if first.year == last.year else f"{first.year} – {last.year}"
    return _day_range(first, last)


def _nominal_last_day(first: date, unit: tuple[int, str] | None, fallback: date) -> date:
    if unit is None:
        return fallback
    n, letter = unit
    steps = {"D": relativedelta(days=n), "W": relativedelta(weeks=n)}
    step = steps.get(letter) or relativedelta(months=n if letter == "M" else 12 * n)
    return first + step - timedelta(days=1)


def period_text(card: Card, line: PeriodLine, *, with_zone: bool = True) -> str:
    """E.g. "Mon 2 Mar 2026 (Europe/Helsinki)"; an alert adds "so far (up to 14:35)"."""
    zone = _zone(card)
    start = line.start.astimezone(zone)
    end = line.end.astimezone(zone)
    unit = _unit(card)
    zone_text = f" ({card.timezone})" if with_zone else ""
    last_by_end = (end - timedelta(microseconds=1)).date() if end > start else start.date()
    last = _nominal_last_day(start.date(), unit, last_by_end)
    if card.kind == NotificationKind.ALERT:
        same_day = end.date() == start.date()
        clock = f"{end:%H:%M}" if same_day else f"{_day(end.date(), year=False)} {end:%H:%M}"
        return f"{_span(start.date(), last, unit)}{zone_text}, so far (up to {clock})"
    return f"{_span(start.date(), last, unit)}{zone_text}"


def title(card: Card) -> str:
    line = card.headline
    if card.kind == NotificationKind.ALERT:
        return f"{card.target}: target {line.status}"
    return f"{card.target}: report"


# --- plain text and e-mail -------------------------------------------------------------------


def _fields(card: Card) -> list[tuple[str, str]]:
    """The card's facts as (label, value) pairs; a multi-period snapshot lists periods apart."""
    pairs = [("Workflow", card.workflow), ("Target", card.target)]
    if len(card.lines) == 1:
        line = card.headline
        pairs += [
            ("Period", period_text(card, line)),
            ("Value", format_number(line.value)),
            ("Threshold", bound_text(card)),
            ("Status", line.status),
            ("Change", change_text(line)),
        ]
    else:
        pairs.append(("Threshold", bound_text(card)))
    return pairs


def _line_summary(card: Card, line: PeriodLine) -> str:
    period = period_text(card, line, with_zone=False)
    return f"{period}: {format_number(line.value)}, {line.status}; {change_text(line)}"


def _period_list(card: Card) -> list[str]:
    return [_line_summary(card, line) for line in card.lines] if len(card.lines) > 1 else []


def card_text(card: Card) -> str:
    out = [title(card), ""]
    out += [f"{label}: {value}" for label, value in _fields(card)]
    periods = _period_list(card)
    if periods:
        out += ["", f"Periods ({card.timezone}):"]
        out += [f"- {item}" for item in periods]
    return "\n".join(out)


def _one_line(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def card_subject(card: Card) -> str:
    line = card.headline
    value = format_number(line.value)
    if card.kind == NotificationKind.ALERT:
        subject = f"{card.target}: target {line.status}, {value} ({bound_text(card)})"
    else:
        period = period_text(card, line, with_zone=False)
        subject = f"{card.target}: {value}, {line.status} ({period})"
        if len(card.lines) > 1:
            subject += f" and {len(card.lines) - 1} more"
    return _one_line(f"[{card.workflow}] {subject}", 200)


def digest_subject(cards: Sequence[Card]) -> str:
    targets = ", ".join(dict.fromkeys(card.target for card in cards))
    return _one_line(f"{len(cards)} Tallybook notifications: {targets}", 200)


def digest_text(cards: Sequence[Card]) -> str:
    rule = "\n\n" + "-" * 60 + "\n\n"
    return f"{len(cards)} notifications\n\n" + rule.join(card_text(card) for card in cards)


_STATUS_COLOURS = {"reached": "#1a7f37", "holds": "#1a7f37", "broken": "#cf222e"}


def card_section_html(card: Card, chart_cid: str | None) -> str:
    """One card as an HTML fragment (a digest e-mail holds several)."""
    esc = html.escape
    status = card.headline.status
    colour = _STATUS_COLOURS.get(status, "#57606a")
    rows = "".join(
        f'<tr><th align="left" style="padding:2px 12px 2px 0;color:#57606a">{esc(label)}</th>'
        f"<td>{esc(value)}</td></tr>"
        for label, value in _fields(card)
    )
    parts = [
        '<div style="margin:0 0 24px 0">',
        f'<h2 style="margin:0 0 8px 0;color:{colour}">{esc(title(card))}</h2>',
        f'<table style="border-collapse:collapse">{rows}</table>',
    ]
    periods = _period_list(card)
    if periods:
        parts.append(f"<p>Periods ({esc(card.timezone)}):</p><ul>")
        parts += [f"<li>{esc(item)}</li>" for item in periods]
        parts.append("</ul>")
    if chart_cid:
        alt = esc(f"Chart of {card.target} against the target")
        parts.append(f'<p><img src="cid:{esc(chart_cid)}" alt="{alt}" width="600"></p>')
    parts.append("</div>")
    return "".join(parts)


def _html_document(body: str) -> str:
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8"></head>'
        f'<body style="font-family:Arial,Helvetica,sans-serif;font-size:14px">{body}</body></html>'
    )


def card_html(card: Card, chart_cid: str | None) -> str:
    return _html_document(card_section_html(card, chart_cid))


def digest_html(cards: Sequence[Card], chart_cids: Sequence[str | None]) -> str:
    heading = f"<h1>{len(cards)} notifications</h1>"
    pairs = zip(cards, chart_cids, strict=True)
    sections = "<hr>".join(card_section_html(card, cid) for card, cid in pairs)
    return _html_document(heading + sections)


# --- Slack -------------------------------------------------------------------------------------


def mrkdwn_escape(text: str) -> str:
    """Slack's three control characters; everything else is shown as typed."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_text(card: Card) -> str:
    """The message's fallback text (notifications, screen readers), escaped for mrkdwn."""
    text = mrkdwn_escape(card_text(card))
    if len(text) <= _SLACK_FALLBACK_CHARS:
        return text
    return text[: text.rfind("\n", 0, _SLACK_FALLBACK_CHARS - 2)] + "\n…"


def _chunks(lines: Iterable[str], limit: int) -> list[str]:
    chunks: list[str] = []
    current = ""
    for line in lines:
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit and current:
            chunks.append(current)
            candidate = line
        current = candidate
    if current:
        chunks.append(current)
    return chunks


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _period_sections(card: Card, room: int) -> list[dict[str, Any]]:
    items = [f"• {mrkdwn_escape(item)}" for item in _period_list(card)]
    if not items:
        return []
    heading = f"*Periods ({mrkdwn_escape(card.timezone)})*"
    chunks = _chunks([heading, *items], _SLACK_SECTION_CHARS)
    if len(chunks) > room:
        chunks = [*chunks[: room - 1], "… and more periods: see the target's evaluations."]
    return [_section(chunk) for chunk in chunks]


def slack_blocks(card: Card, chart_file_id: str | None) -> list[dict[str, Any]]:
    header_text = _one_line(title(card), _SLACK_HEADER_CHARS)
    fields = [
        {"type": "mrkdwn", "text": f"*{label}*\n{mrkdwn_escape(value[:_NAME_CHARS])}"}
        for label, value in _fields(card)
    ]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": header_text, "emoji": False}},
        {"type": "section", "fields": fields[:10]},
    ]
    blocks += _period_sections(card, room=_SLACK_MAX_BLOCKS - 4)
    if chart_file_id:
        blocks.append(
            {
                "type": "image",
                "slack_file": {"id": chart_file_id},
                "alt_text": _one_line(f"Chart of {card.target} against the target", 2000),
            }
        )
    context = f"Tallybook · {card.organization[:_NAME_CHARS]} · {card.reporting_period} periods"
    blocks.append(
        {"type": "context", "elements": [{"type": "mrkdwn", "text": mrkdwn_escape(context)}]}
    )
    return blocks


# --- chart -------------------------------------------------------------------------------------

_CHART_LOCK = threading.Lock()  # matplotlib's caches are not documented as thread-safe
_MAX_TICKS = 12


def _tick_label(card: Card, start: datetime, zone: ZoneInfo, years: bool) -> str:
    day = start.astimezone(zone).date()
    letter = (_unit(card) or (1, "D"))[1]
    if letter == "Y":
        return str(day.year)
    if letter == "M":
        return f"{_MONTHS[day.month - 1]} {day.year % 100:02d}" if years else _month(day)[:3]
    if letter == "W":
        return f"W{day.isocalendar().week}"
    return f"{day.day} {_MONTHS[day.month - 1]}"


def _compact(value: float) -> str:
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:.3g}{suffix}"
    return f"{value:.3g}"


def chart_png(card: Card) -> bytes | None:
    """Recent periods as bars against the threshold, ≈600×240 px; None without points."""
    points = [p for p in card.chart if math.isfinite(p.value)]
    if not points:
        return None
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    zone = _zone(card)
    years = len({p.start.astimezone(zone).year for p in points}) > 1
    labels = [_tick_label(card, p.start, zone, years) for p in points]
    values = [p.value for p in points]
    colours = [_BAR_COLOURS[status_of(card.bound, v, card.threshold)] for v in values]
    step = max(1, math.ceil(len(points) / _MAX_TICKS))
    with _CHART_LOCK:
        figure = Figure(figsize=(6.0, 2.4), dpi=100)
        FigureCanvasAgg(figure)  # attach the Agg canvas: no pyplot, no global state
        axes = figure.add_subplot()
        positions = list(range(len(points)))
        axes.bar(positions, values, color=colours, width=0.7)
        axes.axhline(
            card.threshold,
            color="#0969da",
            linestyle="--",
            linewidth=1.2,
            label=f"target: {bound_text(card)}",
        )
        axes.set_xticks(positions[::step], labels[::step], fontsize=8)
        axes.tick_params(axis="y", labelsize=8)
        axes.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: _compact(v)))
        top = max(max(values), card.threshold)
        bottom = min(0.0, min(values), card.threshold)
        axes.set_ylim(bottom, top + (top - bottom) * 0.2 or 1.0)
        axes.spines[["top", "right"]].set_visible(False)
        axes.legend(loc="upper left", fontsize=8, framealpha=0.85, edgecolor="none")
        figure.subplots_adjust(left=0.09, right=0.98, top=0.95, bottom=0.12)
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
    return buffer.getvalue()


@lru_cache(maxsize=256)
def chart_for(card: Card) -> bytes | None:
    """Cards of one target and period are equal, so each chart is drawn once per process."""
    return chart_png(card)
