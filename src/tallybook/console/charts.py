"""Charts drawn on the server as SVG (pure: numbers in, markup out).

Every chart is readable without colour: the threshold is a dashed line, a period that
reached its target is a filled marker and one that did not a hollow one, lines of a
line chart differ in their markers and dashes, and each chart carries an ``aria-label``
and is shown beside a table of the same numbers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    reached: bool | None = None  # None: not judged (a funnel step, the current period)
    current: bool = False


def number(value: float) -> str:
    """A value as people read it: whole numbers without decimals, others with two."""
    if math.isfinite(value) and value == int(value):
        return f"{int(value):,}".replace(",", " ")
    return f"{value:,.2f}".replace(",", " ")


def _svg(width: int, height: int, label: str, body: str, css: str = "chart") -> Markup:
    # Every text in ``body`` and ``label`` is escaped where it is built; numbers need none.
    return Markup(  # noqa: S704
        f'<svg class="{css}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(label)}" preserveAspectRatio="xMinYMin meet">'
        f"<title>{escape(label)}</title>{body}</svg>"
    )


def _empty(text: str) -> Markup:
    """The sentence shown instead of a chart with nothing to draw (escaped)."""
    return Markup('<p class="muted">{}</p>').format(text)


def _scale(values: Sequence[float], threshold: float | None = None) -> float:
    top = max([*values, threshold or 0.0, 0.0])
    return top * 1.1 if top > 0 else 1.0


def progress(value: float, threshold: float, reached: bool) -> Markup:
    """The current value as a bar against the threshold (a dashed tick)."""
    width, height = 200, 18
    top = _scale([value], threshold)
    filled = round(width * max(value, 0.0) / top, 1)
    tick = round(width * threshold / top, 1)
    css = "bar reached" if reached else "bar missed"
    body = (
        f'<rect class="track" x="0" y="3" width="{width}" height="12" rx="2"/>'
        f'<rect class="{css}" x="0" y="3" width="{filled}" height="12" rx="2"/>'
        f'<line class="threshold" x1="{tick}" y1="0" x2="{tick}" y2="{height}"/>'
    )
    label = f"{number(value)} of a threshold of {number(threshold)}"
    return _svg(width, height, label, body, "chart progress")


def sparkline(values: Sequence[tuple[float, bool]]) -> Markup:
    """The last periods' values; a filled dot reached the target, a hollow one did not."""
    width, height, pad = 120, 28, 4
    if not values:
        return Markup('<span class="muted">no closed period yet</span>')
    top = _scale([v for v, _ in values])
    step = (width - 2 * pad) / max(len(values) - 1, 1)
    points = [
        (round(pad + i * step, 1), round(height - pad - (height - 2 * pad) * v / top, 1))
        for i, (v, _) in enumerate(values)
    ]
    line = " ".join(f"{x},{y}" for x, y in points)
    dots = "".join(
        f'<circle class="{"dot reached" if ok else "dot missed"}" cx="{x}" cy="{y}" r="2.5"/>'
        for (x, y), (_, ok) in zip(points, values, strict=True)
    )
    hits = sum(1 for _, ok in values if ok)
    label = (
        f"The last {len(values)} periods: "
        + ", ".join(number(v) for v, _ in values)
        + f"; {hits} reached"
    )
    return _svg(width, height, label, f'<polyline class="line" points="{line}"/>{dots}', "spark")


def period_chart(
    bars: Sequence[Bar],
    threshold: float | None,
    title: str,
    empty: str = "No period has been evaluated yet.",
) -> Markup:
    """Columns: evaluated periods (and the current one, striped) with the threshold line,
    or, with no threshold, counts per slot (hour of the day, day of the week)."""
    width, height, left, bottom, top_pad = 640, 240, 48, 28, 12
    if not bars:
        return _empty(empty)
    top = _scale([b.value for b in bars], threshold)
    plot_h = height - bottom - top_pad
    slot = (width - left - 8) / len(bars)
    bar_w = max(min(slot * 0.7, 48), 2)

    def y(v: float) -> float:
        return round(top_pad + plot_h - plot_h * max(v, 0.0) / top, 1)

    parts = [
        f'<line class="axis" x1="{left}" y1="{top_pad + plot_h}" x2="{width - 4}" '
        f'y2="{top_pad + plot_h}"/>',
        f'<text class="tick" x="{left - 6}" y="{y(top / 1.1) + 4}" text-anchor="end">'
        f"{escape(number(top / 1.1))}</text>",
        f'<text class="tick" x="{left - 6}" y="{top_pad + plot_h + 4}" text-anchor="end">0</text>',
    ]
    every = max(1, math.ceil(len(bars) / 10))
    for i, bar in enumerate(bars):
        x = round(left + i * slot + (slot - bar_w) / 2, 1)
        if bar.current:
            css = "current"
        elif bar.reached is None:  # a count, not judged against a threshold
            css = "step"
        else:
            css = "reached" if bar.reached else "missed"
        parts.append(
            f'<rect class="col {css}" x="{x}" y="{y(bar.value)}" width="{round(bar_w, 1)}" '
            f'height="{round(top_pad + plot_h - y(bar.value), 1)}">'
            f"<title>{escape(bar.label)}: {escape(number(bar.value))}</title></rect>"
        )
        if bar.reached is not None and not bar.current:
            mark = "✓" if bar.reached else "✗"
            parts.append(
                f'<text class="mark" x="{x + bar_w / 2}" y="{y(bar.value) - 3}" '
                f'text-anchor="middle">{mark}</text>'
            )
        if i % every == 0 or bar.current:
            parts.append(
                f'<text class="tick" x="{x + bar_w / 2}" y="{height - 8}" '
                f'text-anchor="middle">{escape(bar.label)}</text>'
            )
    if threshold is not None:
        ty = y(threshold)
        parts.append(
            f'<line class="threshold" x1="{left}" y1="{ty}" x2="{width - 4}" y2="{ty}"/>'
            f'<text class="tick" x="{width - 6}" y="{ty - 4}" text-anchor="end">threshold '
            f"{escape(number(threshold))}</text>"
        )
    return _svg(width, height, title, "".join(parts))


def funnel(steps: Sequence[Bar], title: str) -> Markup:
    """Horizontal bars, one per step, with the count and the share of the first step."""
    return bars(steps, title, shares=True, empty="The workflow has no steps.")


def bars(
    items: Sequence[Bar], title: str, *, shares: bool = False, empty: str = "No data."
) -> Markup:
    """Horizontal bars, one per item, labelled with the count (and, with ``shares``, each
    one's share of the first)."""
    row, width, label_w = 34, 640, 170
    if not items:
        return _empty(empty)
    top = max(max(s.value for s in items), 1.0)
    first = items[0].value or 0.0
    parts = []
    for i, step in enumerate(items):
        y = i * row + 4
        w = round((width - label_w - 130) * step.value / top, 1)
        share = f" ({step.value / first:.0%})" if shares and first and i else ""
        parts.append(
            f'<text class="tick" x="{label_w - 8}" y="{y + 17}" text-anchor="end">'
            f"{escape(step.label[:26])}</text>"
            f'<rect class="col step" x="{label_w}" y="{y}" width="{w}" height="24"/>'
            f'<text class="value" x="{label_w + w + 6}" y="{y + 17}">'
            f"{escape(number(step.value))}{escape(share)}</text>"
        )
    return _svg(width, row * len(items) + 8, title, "".join(parts))


DASHES = ("", "6 3", "2 3", "8 3 2 3", "1 2")
MARKERS = ("circle", "square", "triangle", "diamond", "cross")


def _marker(kind: str, x: float, y: float, css: str) -> str:
    match kind:
        case "circle":
            return f'<circle class="{css}" cx="{x}" cy="{y}" r="3"/>'
        case "square":
            return f'<rect class="{css}" x="{x - 3}" y="{y - 3}" width="6" height="6"/>'
        case "triangle":
            return f'<polygon class="{css}" points="{x},{y - 4} {x - 4},{y + 3} {x + 4},{y + 3}"/>'
        case "diamond":
            return (
                f'<polygon class="{css}" points="{x},{y - 4} {x - 4},{y} {x},{y + 4} {x + 4},{y}"/>'
            )
        case _:
            return (
                f'<path class="{css} cross" d="M{x - 3},{y - 3} L{x + 3},{y + 3} '
                f'M{x - 3},{y + 3} L{x + 3},{y - 3}"/>'
            )


def line_chart(
    labels: Sequence[str], series: Sequence[tuple[str, Sequence[float]]], title: str
) -> Markup:
    """One line per series over the same labels (time buckets); each line has its own
    marker shape and dash pattern, named in a legend."""
    width, left, bottom, top_pad = 640, 56, 28, 12
    height = 240 + 18 * len(series)
    plot_h = 240 - bottom - top_pad
    if not labels or not series:
        return Markup('<p class="muted">No data in this interval.</p>')
    top = _scale([v for _, values in series for v in values])
    step = (width - left - 12) / max(len(labels) - 1, 1)

    def xy(i: int, v: float) -> tuple[float, float]:
        return round(left + i * step, 1), round(top_pad + plot_h - plot_h * v / top, 1)

    parts = [
        f'<line class="axis" x1="{left}" y1="{top_pad + plot_h}" x2="{width - 4}" '
        f'y2="{top_pad + plot_h}"/>',
        f'<text class="tick" x="{left - 6}" y="{xy(0, top / 1.1)[1] + 4}" text-anchor="end">'
        f"{escape(number(top / 1.1))}</text>",
        f'<text class="tick" x="{left - 6}" y="{top_pad + plot_h + 4}" text-anchor="end">0</text>',
    ]
    every = max(1, math.ceil(len(labels) / 6))
    for i, label in enumerate(labels):
        if i % every == 0:
            parts.append(
                f'<text class="tick" x="{xy(i, 0)[0]}" y="{240 - 8}" text-anchor="middle">'
                f"{escape(label)}</text>"
            )
    for n, (name, values) in enumerate(series):
        css = f"series s{n % len(DASHES)}"
        dash = DASHES[n % len(DASHES)]
        points = [xy(i, v) for i, v in enumerate(values)]
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        parts.append(
            f'<polyline class="{css}"{dash_attr} points="'
            + " ".join(f"{x},{y}" for x, y in points)
            + '"/>'
        )
        marker = MARKERS[n % len(MARKERS)]
        parts.extend(_marker(marker, x, y, f"marker s{n % len(DASHES)}") for x, y in points)
        ly = 240 + 18 * n + 6
        parts.append(
            f'<line class="{css}"{dash_attr} x1="{left}" y1="{ly}" x2="{left + 30}" y2="{ly}"/>'
            + _marker(marker, left + 15, ly, f"marker s{n % len(DASHES)}")
            + f'<text class="tick" x="{left + 38}" y="{ly + 4}">{escape(name)}</text>'
        )
    return _svg(width, height, title, "".join(parts))
