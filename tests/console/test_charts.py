"""The console's SVG charts (pure): the numbers they draw, their labels escaped, and
meaning that does not rest on colour alone."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from tallybook.console import charts
from tallybook.console.web import STATIC

SVG = "{http://www.w3.org/2000/svg}"


def parse(markup: str) -> ET.Element:
    text = str(markup)  # a plain string: Markup.replace would escape the namespace
    return ET.fromstring(text.replace("<svg ", '<svg xmlns="http://www.w3.org/2000/svg" ', 1))


def test_numbers_read_as_people_write_them() -> None:
    assert charts.number(1234567.0) == "1 234 567"
    assert charts.number(5.5) == "5.50"
    assert charts.number(0.0) == "0"


def test_progress_bar_width_and_threshold_tick() -> None:
    svg = parse(charts.progress(25, 50, reached=False))
    bar = svg.find(f"{SVG}rect[@class='bar missed']")
    tick = svg.find(f"{SVG}line[@class='threshold']")
    assert bar is not None and tick is not None
    # the scale is 110 % of the larger of value and threshold
    assert float(bar.get("width", "")) == round(200 * 25 / 55, 1)
    assert float(tick.get("x1", "")) == round(200 * 50 / 55, 1)
    assert svg.get("aria-label") == "25 of a threshold of 50"


def test_sparkline_marks_reached_periods_by_shape_not_colour_alone() -> None:
    svg = parse(charts.sparkline([(7.0, True), (4.0, False), (5.5, True)]))
    dots = svg.findall(f"{SVG}circle")
    assert [d.get("class") for d in dots] == ["dot reached", "dot missed", "dot reached"]
    css = (STATIC / "console.css").read_text()
    # a missed period is a hollow dot (paper fill), a reached one filled
    assert re.search(r"\.dot\.missed \{ fill: var\(--paper\)", css)
    assert svg.get("aria-label") == "The last 3 periods: 7, 4, 5.50; 2 reached"


def test_period_chart_marks_and_threshold() -> None:
    bars = [charts.Bar("11-01", 7, True), charts.Bar("11-02", 4, False)]
    markup = charts.period_chart([*bars, charts.Bar("now", 2, None, current=True)], 5, "t")
    svg = parse(markup)
    marks = [t.text for t in svg.findall(f"{SVG}text[@class='mark']")]
    assert marks == ["✓", "✗"]  # the current period is not judged yet
    assert svg.find(f"{SVG}rect[@class='col current']") is not None
    assert "threshold 5" in markup


def test_labels_are_escaped() -> None:
    markup = charts.funnel([charts.Bar("<b>&", 3.0)], 'a "title" <script>')
    assert "<script>" not in markup and "<b>" not in markup
    parse(markup)  # well-formed


def test_line_chart_tells_lines_apart_by_marker_and_dash() -> None:
    svg = parse(
        charts.line_chart(["a", "b"], [("one", [1.0, 2.0]), ("two", [2.0, 1.0])], "two lines")
    )
    lines = svg.findall(f"{SVG}polyline")
    assert [line.get("stroke-dasharray") for line in lines] == [None, "6 3"]
    assert svg.findall(f"{SVG}circle") and svg.findall(f"{SVG}rect")  # circles, then squares
    legend = [t.text for t in svg.findall(f"{SVG}text") if t.text in ("one", "two")]
    assert legend == ["one", "two"]


def test_empty_charts_say_so() -> None:
    assert "no closed period yet" in charts.sparkline([])
    assert "No period has been evaluated yet" in charts.period_chart([], 5, "t")
    assert "No data in this interval" in charts.line_chart([], [], "t")


def test_columns_without_a_threshold_are_counts() -> None:
    drawn = str(charts.period_chart([charts.Bar("Sun", 3), charts.Bar("Mon", 0)], None, "Days"))
    assert 'class="threshold"' not in drawn and "✓" not in drawn and "✗" not in drawn
    assert drawn.count('class="col step"') == 2
    assert "Sun: 3" in drawn
    assert str(charts.period_chart([], None, "Days", empty="No <reports>.")) == (
        '<p class="muted">No &lt;reports&gt;.</p>'
    )
    listed = str(charts.bars([charts.Bar("High", 4), charts.Bar("Low", 2)], "Severity"))
    assert ">4</text>" in listed and ">2</text>" in listed and "%" not in listed
