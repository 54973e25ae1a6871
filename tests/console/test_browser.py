"""The console in a real Chromium (Debian's, driven by Playwright) against the app served
over real HTTP on loopback, with the demo organisation loaded: sign in, create a target
through the form (a validation error first), add a Slack setting, see the chart; the same
main flow with the keyboard alone; every page 375 px wide without horizontal scrolling; a
form without its CSRF token refused; and no Content-Security-Policy violation anywhere.

Screenshots of each page go to a directory of the test run (or ``TALLYBOOK_SCREENSHOTS``),
as small palette PNGs; docs/console.md shows the key ones.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Iterator
from contextlib import redirect_stdout
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Browser, ConsoleMessage, Page, expect

from tallybook.app import create_app
from tallybook.demo import load_demo
from tallybook.events.store import open_event_store
from tallybook.files.registry import open_file_store
from tallybook.kit.db import Database
from tallybook.kit.migrate import upgrade
from tallybook.settings import Settings
from tallybook.worker.loop import Worker
from tests.fixtures.browser import launch_chromium
from tests.fixtures.live_server import serve_app

TOKEN_LINE = re.compile(r"API token \(shown only now\): (\S+)")
WEBHOOK = "https://hooks.example.com/services/T000/B000/abcdefgh1234"


@dataclass(frozen=True)
class Demo:
    url: str
    token: str
    worker: Worker


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """A fresh installation with the demo organisation, as `make run` makes it, served on
    loopback; its own data directory, so that its worker's passes touch nothing else."""
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("console-demo"),
        secret_key="console-test-secret",
        _env_file=None,
    )
    database = Database(settings)
    upgrade(database.engine)
    store = open_event_store(settings)
    files = open_file_store(settings)
    app = create_app(settings, database, store, files=files)
    try:
        with serve_app(app) as url:
            printed = io.StringIO()
            with redirect_stdout(printed):
                load_demo(database, store, url)
            found = TOKEN_LINE.search(printed.getvalue())
            assert found is not None, "the demo printed no token"
            assert f"{url}/console" in printed.getvalue()  # the banner points to the console
            worker = Worker(database, store, settings, files=files)
            worker.run_pass()  # the demo targets' closed periods, as `make run` does at once
            yield Demo(url, found.group(1), worker)
    finally:
        files.close()
        store.close()
        database.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with launch_chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    chosen = os.environ.get("TALLYBOOK_SCREENSHOTS")
    if chosen:
        Path(chosen).mkdir(parents=True, exist_ok=True)
        return Path(chosen)
    return tmp_path_factory.mktemp("screenshots")


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1100, "height": 800})
    page = context.new_page()
    violations: list[str] = []

    def watch(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or "Refused to" in message.text:
            violations.append(message.text)

    page.on("console", watch)
    yield page
    context.close()
    assert violations == [], violations


def screenshot(page: Page, shots: Path, name: str) -> None:
    """A full-page screenshot, reduced to a palette PNG (a few tens of KB)."""
    raw = page.screenshot(full_page=True)
    image = Image.open(io.BytesIO(raw)).convert("RGB")
    image.quantize(colors=64).save(shots / f"{name}.png", optimize=True)


def sign_in(page: Page, demo: Demo) -> None:
    page.goto(f"{demo.url}/console")
    expect(page).to_have_url(re.compile(r"/console/sign-in"))
    page.get_by_label("API token").fill(demo.token)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{demo.url}/console/targets")


def test_sign_in_create_a_target_add_slack_and_see_the_chart(
    page: Page, demo: Demo, shots: Path
) -> None:
    page.goto(f"{demo.url}/console/sign-in")
    screenshot(page, shots, "sign-in")
    sign_in(page, demo)
    expect(page.get_by_role("link", name="At least 50 leads a day")).to_be_visible()
    expect(page.locator("svg.progress").first).to_be_visible()
    screenshot(page, shots, "targets")

    page.get_by_role("link", name="New target").click()
    page.get_by_label("Name").fill("At least 10 leads a day")
    page.get_by_label("Threshold").fill("10")
    page.get_by_label("Reporting period").fill("every day")
    page.get_by_role("button", name="Create target").click()
    expect(page.get_by_role("alert").first).to_contain_text("The target was not saved")
    expect(page.locator("#reporting_period-error")).to_contain_text("String should match")
    screenshot(page, shots, "target-validation")

    page.get_by_label("Reporting period").fill("P1D")
    page.get_by_role("button", name="Create target").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("At least 10 leads a day")
    expect(page.locator("figure svg.chart")).to_be_visible()
    expect(page.locator("#current-value")).to_contain_text("/ 10")

    page.get_by_text("Add a Slack notification").click()
    page.get_by_label("Name").and_(page.locator("#new-slack-name")).fill("Sales")
    page.locator("#new-slack-webhook").fill(WEBHOOK)
    page.get_by_role("button", name="Add Slack notification").click()
    expect(page.get_by_role("heading", name=re.compile("Slack: Sales"))).to_be_visible()
    expect(page.locator("#s-" + _setting_id(page) + "-webhook")).to_have_value("****1234")
    screenshot(page, shots, "target")

    page.get_by_role("button", name="Pause").click()
    expect(page.get_by_role("heading", name=re.compile("Slack: Sales"))).to_contain_text("paused")

    page.goto(f"{demo.url}/console/targets")
    page.get_by_role("link", name="At least 50 leads a day").click()
    expect(
        page.locator("figure svg.chart rect.col.reached, figure svg.chart rect.col.missed").first
    ).to_be_visible()
    screenshot(page, shots, "target-history")


def _setting_id(page: Page) -> str:
    action = page.locator("form[action*='/notifications/slack/']").first.get_attribute("action")
    assert action is not None
    return action.rsplit("/", 1)[1]


def test_keyboard_only_main_flow(page: Page, demo: Demo) -> None:
    page.goto(f"{demo.url}/console")
    # the token field has focus on the sign-in page (once the browser has applied
    # `autofocus`: keys typed before that are lost); Enter submits the form
    expect(page.get_by_label("API token")).to_be_focused()
    page.keyboard.type(demo.token)
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{demo.url}/console/targets")
    _tab_to(page, "At least 300 leads a week")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("At least 300 leads a week")
    _tab_to(page, "Name")  # the first field of the target's form
    page.keyboard.press("Control+a")
    page.keyboard.type("At least 300 leads every week")
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_have_text("Saved.")
    expect(page.get_by_role("heading", level=1)).to_have_text("At least 300 leads every week")
    _tab_to(page, "Add a Slack notification")
    page.keyboard.press("Enter")  # opens the form
    page.keyboard.press("Tab")
    page.keyboard.type("Weekly leads")  # its name
    page.keyboard.press("Tab")
    page.keyboard.type(WEBHOOK)  # the webhook URL
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name=re.compile("Slack: Weekly leads"))).to_be_visible()


def _tab_to(page: Page, name: str, limit: int = 80) -> None:
    """Press Tab until the focused element is named ``name`` (its text or its label)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate(
            """() => {
                const el = document.activeElement;
                const label = el.labels && el.labels[0] ? el.labels[0].textContent : "";
                return (label || el.textContent || "").trim();
            }"""
        )
        if focused == name:
            return
    pytest.fail(f"{name!r} was not reached with the Tab key")


def test_every_page_fits_a_375_px_wide_screen(browser: Browser, demo: Demo, shots: Path) -> None:
    context = browser.new_context(viewport={"width": 375, "height": 740})
    page = context.new_page()
    try:
        sign_in(page, demo)
        target = page.get_by_role("link", name="At least 50 leads a day").get_attribute("href")
        page.goto(f"{demo.url}/console/workflows")
        finder = page.get_by_role("link", name="Product finder").get_attribute("href")
        for name, path in (
            ("narrow-targets", "/console/targets"),
            ("narrow-target", str(target)),
            ("narrow-new-target", "/console/targets/new"),
            ("narrow-exports", "/console/exports"),
            ("narrow-workflows", "/console/workflows"),
            ("narrow-workflow", f"{finder}?step=1"),
            ("narrow-explorer", "/console/explorer?vendor=com.example.shop&group_by=category"),
            ("narrow-analytics", "/console/analytics"),
        ):
            page.goto(f"{demo.url}{path}")
            wide = page.evaluate("() => document.documentElement.scrollWidth")
            assert wide <= 375, f"{path} is {wide} px wide"
            screenshot(page, shots, name)
    finally:
        context.close()


def test_a_form_without_its_csrf_token_is_refused(page: Page, demo: Demo) -> None:
    sign_in(page, demo)
    page.get_by_role("link", name="At least 50 leads a day").click()
    page.evaluate(
        "() => document.querySelectorAll('input[name=csrf_token]').forEach(e => e.remove())"
    )
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.get_by_role("button", name="Save target").click()
    assert posted.value.status == 403
    expect(page.get_by_role("alert")).to_contain_text("security token")


def test_export_starts_completes_and_downloads(page: Page, demo: Demo, shots: Path) -> None:
    sign_in(page, demo)
    page.get_by_role("link", name="Exports").click()
    page.get_by_role("button", name="Start export").click()
    expect(page.get_by_role("status")).to_contain_text("The export has started")
    expect(page.locator("td[aria-live]").first).to_contain_text("in progress")
    demo.worker.export(datetime.now(UTC))  # what the embedded worker does on its next pass
    link = page.get_by_role("link", name="Download CSV")
    expect(link).to_be_visible(timeout=10_000)  # the page's script polls the export
    screenshot(page, shots, "exports")
    with page.expect_download() as download:
        link.click()
    content = Path(download.value.path()).read_text(encoding="utf-8-sig")
    assert content.splitlines()[0].startswith("chat_id") or "," in content.splitlines()[0]
    assert len(content.splitlines()) > 10  # the demo room's fortnight of chats


def test_workflow_funnel_and_step_data(page: Page, demo: Demo, shots: Path) -> None:
    sign_in(page, demo)
    page.get_by_role("link", name="Workflows").click()
    page.get_by_role("link", name="Product finder").click()
    expect(page.locator("figure svg.chart")).to_be_visible()
    expect(page.get_by_role("row").filter(has_text="Budget").first).to_be_visible()
    page.get_by_role("link", name=re.compile(r"^2\. ")).click()
    expect(page.get_by_role("heading", name="Step 2 source data")).to_be_visible()
    screenshot(page, shots, "workflow")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download CSV").click()
    lines = Path(download.value.path()).read_text(encoding="utf-8-sig").splitlines()
    assert len(lines) > 1


def test_event_explorer_draws_the_fetch_answer(page: Page, demo: Demo, shots: Path) -> None:
    sign_in(page, demo)
    page.get_by_role("link", name="Event explorer").click()
    page.get_by_label("Vendor").fill("com.example.shop")
    page.get_by_label("Group by").select_option("category")
    page.get_by_role("button", name="Run query").click()
    expect(page.locator("figure svg.chart")).to_be_visible()
    expect(page.locator("#query-json")).to_contain_text('"group_by"')
    expect(page.get_by_role("cell", name="lead").first).to_be_visible()
    screenshot(page, shots, "explorer")


def test_analytics_dashboard_draws_the_demo_channel(page: Page, demo: Demo, shots: Path) -> None:
    sign_in(page, demo)
    page.get_by_role("link", name="Analytics").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Analytics")
    for heading in ("Reports over time", "Reports per state", "Reports per user", "Reads"):
        expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
    expect(page.locator("figure svg.chart").first).to_be_visible()
    # over time, states, users, at least one form field, hours, weekdays, awareness
    assert page.locator("figure svg.chart").count() >= 7
    page.get_by_label("Time zone of hours and days").fill("Pacific/Auckland")
    page.get_by_role("button", name="Show").click()
    expect(
        page.get_by_role("heading", name="Reports per hour of the day (Pacific/Auckland)")
    ).to_be_visible()
    screenshot(page, shots, "analytics")
