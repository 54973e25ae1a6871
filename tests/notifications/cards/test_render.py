"""Rendering cards: text, subjects, HTML, Slack blocks and the PNG chart."""

from __future__ import annotations

import io
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from PIL import Image

from tallybook.notifications.cards import render
from tallybook.notifications.cards.data import Card, PeriodLine
from tests.notifications.factories import MONDAY, alert, day_line, snapshot

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def one_line(card: Card, start: datetime, end: datetime, **changes: Any) -> Card:
    line = PeriodLine(start, end, 10.0, "not reached", None)
    return replace(card, lines=(line,), **changes)


def test_snapshot_text_has_every_fact() -> None:
    text = render.card_text(snapshot())
    assert "Workflow: Sales funnel" in text
    assert "Target: Daily signups" in text
    assert "Period: Mon 2 Mar 2026 (Europe/Helsinki)" in text
    assert "Value: 120" in text
    assert "Threshold: at least 100" in text
    assert "Status: reached" in text
    assert "Change: +20 (+20.0%) vs the previous period (100)" in text


def test_alert_text_shows_the_period_so_far() -> None:
    text = render.card_text(alert())
    assert text.startswith("Open tickets: target broken")
    assert "Period: Mon 2 Mar 2026 (Europe/Helsinki), so far (up to 14:35)" in text
    assert "Threshold: below 30" in text
    assert "Value: 37" in text
    assert "Status: broken" in text
    assert "+12 (+48.0%)" in text


@pytest.mark.parametrize(
    ("value", "previous", "expected"),
    [
        (80.0, 120.0, "-40 (-33.3%) vs the previous period (120)"),
        (5.0, 0.0, "+5 vs the previous period (0)"),
        (7.5, 7.5, "unchanged from the previous period (7.5)"),
        (0.25, 0.2, "+0.05 (+25.0%) vs the previous period (0.2)"),
        (1234567.0, None, "no previous period"),
    ],
)
def test_change(value: float, previous: float | None, expected: str) -> None:
    card = snapshot(lines=(day_line(MONDAY, value, previous),))
    assert render.change_text(card.headline) == expected
    assert f"Change: {expected}" in render.card_text(card)


def test_large_and_fractional_values() -> None:
    assert render.format_number(1234567.0) == "1,234,567"
    assert render.format_number(12.345) == "12.35"
    assert render.format_number(0.0345) == "0.0345"
    assert render.format_number(-3.0) == "-3"


def test_snapshot_lists_every_period() -> None:
    lines = (
        day_line(MONDAY, 120, 100),
        day_line(MONDAY + timedelta(days=1), 80, 120),
        day_line(MONDAY + timedelta(days=2), 101, 80),
    )
    text = render.card_text(snapshot(lines=lines))
    assert "Periods (Europe/Helsinki):" in text
    assert "- Mon 2 Mar 2026: 120, reached; +20 (+20.0%)" in text
    assert "- Tue 3 Mar 2026: 80, not reached; -40 (-33.3%)" in text
    assert "- Wed 4 Mar 2026: 101, reached; +21 (+26.2%)" in text
    assert "Threshold: at least 100" in text


def test_days_across_daylight_saving_changes() -> None:
    # Helsinki moves to UTC+3 at 03:00 on Sun 29 Mar 2026: that day lasts 23 hours.
    sunday = datetime(2026, 3, 28, 22, tzinfo=UTC)
    monday = datetime(2026, 3, 29, 21, tzinfo=UTC)
    tuesday = datetime(2026, 3, 30, 21, tzinfo=UTC)
    card = snapshot()
    on_sunday = PeriodLine(sunday, monday, 1, "not reached")
    on_monday = PeriodLine(monday, tuesday, 1, "not reached")
    assert render.period_text(card, on_sunday) == "Sun 29 Mar 2026 (Europe/Helsinki)"
    assert render.period_text(card, on_monday) == "Mon 30 Mar 2026 (Europe/Helsinki)"
    # 12:00 UTC on the change day is 15:00 local summer time, not 14:00.
    checked = one_line(alert(), sunday, datetime(2026, 3, 29, 12, tzinfo=UTC))
    assert "Sun 29 Mar 2026 (Europe/Helsinki), so far (up to 15:00)" in render.card_text(checked)
    # New York falls back on Sun 1 Nov 2026: that day lasts 25 hours, from 04:00 UTC.
    new_york = snapshot(timezone="America/New_York")
    start, end = datetime(2026, 11, 1, 4, tzinfo=UTC), datetime(2026, 11, 2, 5, tzinfo=UTC)
    fall = PeriodLine(start, end, 1, "not reached")
    assert render.period_text(new_york, fall) == "Sun 1 Nov 2026 (America/New_York)"
    late = one_line(
        alert(timezone="America/New_York"), start, datetime(2026, 11, 2, 4, 30, tzinfo=UTC)
    )
    assert "so far (up to 23:30)" in render.card_text(late)  # UTC-5 by then, not UTC-4


def test_weeks_months_and_years() -> None:
    week = one_line(snapshot(), MONDAY, MONDAY + timedelta(days=7), reporting_period="P1W")
    assert "Period: week 10, Mon 2 Mar – Sun 8 Mar 2026 (Europe/Helsinki)" in render.card_text(week)
    march = datetime(2026, 2, 28, 22, tzinfo=UTC)
    april = datetime(2026, 3, 31, 21, tzinfo=UTC)  # summer time by then
    month = one_line(snapshot(), march, april, reporting_period="P1M")
    assert "Period: March 2026 (Europe/Helsinki)" in render.card_text(month)
    quarter = one_line(
        snapshot(), march, datetime(2026, 5, 31, 21, tzinfo=UTC), reporting_period="P3M"
    )
    assert "Period: March – May 2026 (Europe/Helsinki)" in render.card_text(quarter)
    year_start = datetime(2025, 12, 31, 22, tzinfo=UTC)
    year = one_line(
        snapshot(), year_start, datetime(2026, 12, 31, 22, tzinfo=UTC), reporting_period="P1Y"
    )
    assert "Period: 2026 (Europe/Helsinki)" in render.card_text(year)
    two_days = one_line(snapshot(), MONDAY, MONDAY + timedelta(days=2), reporting_period="P2D")
    assert "Period: Mon 2 Mar – Tue 3 Mar 2026 (Europe/Helsinki)" in render.card_text(two_days)


def test_week_alert_names_the_whole_week_and_the_check() -> None:
    checked = MONDAY + timedelta(days=2, hours=14, minutes=35)
    card = one_line(alert(), MONDAY, checked, reporting_period="P1W")
    expected = (
        "week 10, Mon 2 Mar – Sun 8 Mar 2026 (Europe/Helsinki), so far (up to Wed 4 Mar 14:35)"
    )
    assert expected in render.card_text(card)


def test_subjects() -> None:
    assert render.card_subject(alert()) == "[Support] Open tickets: target broken, 37 (below 30)"
    assert (
        render.card_subject(snapshot())
        == "[Sales funnel] Daily signups: 120, reached (Mon 2 Mar 2026)"
    )
    sneaky = render.card_subject(snapshot(target="Line\r\nBcc: victim@example.com"))
    assert "\n" not in sneaky and "\r" not in sneaky
    assert len(render.card_subject(snapshot(target="x" * 255))) <= 200
    assert render.digest_subject([alert(), snapshot(), alert()]).startswith(
        "3 Tallybook notifications"
    )


def test_html_escapes_user_text() -> None:
    card = snapshot(target="<script>alert(1)</script>", workflow='Sales & "Co"')
    page = render.card_html(card, "chart0.n1@tallybook")
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "Sales &amp; &quot;Co&quot;" in page
    assert 'src="cid:chart0.n1@tallybook"' in page
    assert "<img" not in render.card_html(card, None)


def test_digest_html_has_a_section_per_card() -> None:
    cards = [alert(), snapshot(), snapshot(target="Weekly demos")]
    page = render.digest_html(cards, ["c0@x", None, "c2@x"])
    assert page.count("<h2") == 3
    assert "Open tickets" in page and "Daily signups" in page and "Weekly demos" in page
    assert "cid:c0@x" in page and "cid:c2@x" in page and page.count("<img") == 2


def test_slack_blocks() -> None:
    card = snapshot(target="<!channel> & friends")
    blocks = render.slack_blocks(card, "F0123456789")
    assert [b["type"] for b in blocks] == ["header", "section", "image", "context"]
    assert blocks[0]["text"]["type"] == "plain_text"
    fields = [f["text"] for f in blocks[1]["fields"]]
    assert "*Target*\n&lt;!channel&gt; &amp; friends" in fields
    assert "*Value*\n120" in fields and "*Status*\nreached" in fields
    assert blocks[2]["slack_file"] == {"id": "F0123456789"}
    assert "<!channel>" not in render.slack_text(card)
    assert [b["type"] for b in render.slack_blocks(card, None)] == ["header", "section", "context"]


def test_slack_blocks_stay_within_limits() -> None:
    start = datetime(2025, 1, 1, 22, tzinfo=UTC)
    lines = tuple(day_line(start + timedelta(days=i), i * 1.5, i - 1.0) for i in range(366))
    card = snapshot(lines=lines, target="T" * 255, workflow="W" * 255)
    blocks = render.slack_blocks(card, "F1")
    assert len(blocks) <= 50
    assert len(blocks[0]["text"]["text"]) <= 150
    assert len(blocks[1]["fields"]) <= 10
    for block in blocks:
        if block["type"] == "section" and "text" in block:
            assert len(block["text"]["text"]) <= 3000
    assert blocks[-2]["type"] == "image"
    assert len(render.slack_text(card)) <= 4000
    assert len(json.dumps(blocks)) < 100_000


def _threshold_blue(pixel: object) -> bool:
    """The dashed threshold line (#0969da), allowing for anti-aliasing."""
    assert isinstance(pixel, tuple)
    red, green, blue = pixel
    return bool(blue > 190 and red < 90 and 90 < green < 150)


def test_chart_png() -> None:
    png = render.chart_png(snapshot())
    assert png is not None and png.startswith(PNG_SIGNATURE)
    image = Image.open(io.BytesIO(png)).convert("RGB")
    assert image.size == (600, 240)
    colours = {image.getpixel((x, y)) for x in range(0, 600, 2) for y in range(0, 240, 2)}
    assert (45, 164, 78) in colours  # a bar that reached the target
    assert (140, 149, 159) in colours  # a bar that did not
    assert (207, 34, 46) not in colours  # red is for broken UPPER targets only
    broken = render.chart_png(alert())
    assert broken is not None
    image = Image.open(io.BytesIO(broken)).convert("RGB")
    assert (207, 34, 46) in {image.getpixel((x, 120)) for x in range(600)}


def test_threshold_line_is_horizontal_across_the_chart() -> None:
    png = render.chart_png(snapshot())
    assert png is not None
    image = Image.open(io.BytesIO(png)).convert("RGB")
    rows = [
        sum(1 for x in range(image.width) if _threshold_blue(image.getpixel((x, y))))
        for y in range(image.height)
    ]
    assert max(rows) > image.width // 3  # a dashed line, most of the plot wide
    # The threshold (100) sits between the axis (0) and the tallest bar (130): mid-height.
    line_row = rows.index(max(rows))
    assert image.height * 0.2 < line_row < image.height * 0.8


def test_no_chart_without_points() -> None:
    assert render.chart_png(snapshot(chart=())) is None


def test_charts_render_the_same_from_several_threads() -> None:
    cards = [snapshot(), alert()] * 4
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(render.chart_png, cards))
    assert len(set(results)) == 2
    assert results[0] == render.chart_png(snapshot())
