"""Issue 16: events sent by a web page on another origin, in a real Chromium (Debian's, which
``make test`` installs), to Tallybook served over real HTTP; read back through the fetch API.

Each way a page sends is covered: ``fetch`` with JSON (which the browser preflights), an
axios-style ``XMLHttpRequest`` posting one event as giosg's own tool does, ``sendBeacon``,
and the snippet served at ``/events/v2/tallybook.js`` (by beacon, and by ``fetch`` with
``keepalive`` when the beacon is refused). The page's origin is ``http://127.0.0.2:N``,
Tallybook's ``http://127.0.0.1:M``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page

from tests.events.factories import page_event
from tests.fixtures.browser import launch_chromium
from tests.fixtures.live_server import serve_app, serve_directory
from tests.fixtures.tenants import Tenant

# Browsers behave the same whichever relational store is behind the API.
pytestmark = pytest.mark.parametrize("database", ["sqlite"], indirect=True)

VENDOR = "com.example.browser"
STORE_V2 = "/events/v2/store/untrusted"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with launch_chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def api(app: Any) -> Iterator[str]:
    with serve_app(app) as url:
        yield url


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("site")
    (root / "index.html").write_text("<!doctype html><title>A shop</title><p>Welcome</p>")
    with serve_directory(root) as url:
        yield url


@pytest.fixture
def page(browser: Browser, site: str) -> Iterator[Page]:
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{site}/index.html")
    yield page
    context.close()


def stored(api: str, tenant: Tenant, expected: int, timeout: float = 10.0) -> int:
    """The tenant's count of browser events, read through the fetch API; waits up to
    ``timeout`` for ``expected`` (a beacon is sent after the page's call returns)."""
    now = datetime.now(UTC)
    body = {
        "vendor": VENDOR,
        "aggregations": ["count"],
        "interval": {
            "start": (now - timedelta(days=2)).isoformat(),
            "end": (now + timedelta(days=2)).isoformat(),
        },
    }
    deadline = time.monotonic() + timeout
    while True:
        response = httpx.post(
            f"{api}/api/events/v2/orgs/{tenant.org_id}/fetch", json=body, headers=tenant.headers
        )
        assert response.status_code == 200, response.text
        data = response.json()["data"]
        count = int(data[0][-1]) if data else 0
        if count >= expected or time.monotonic() > deadline:
            return count
        time.sleep(0.1)


def preflights(app: Any, path: str) -> float:
    value = app.state.metrics.registry.get_sample_value(
        "tallybook_http_requests_total",
        {"method": "OPTIONS", "route": path, "status": "204"},
    )
    return float(value or 0.0)


@pytest.mark.parametrize("version", ["v2", "v1"])
def test_fetch_with_json_is_preflighted_and_stored(
    page: Page, api: str, app: Any, tenant: Tenant, version: str
) -> None:
    url = f"{api}/events/{version}/store/untrusted"
    one = page_event(tenant, vendor=VENDOR)
    body = {"events": [one, page_event(tenant, vendor=VENDOR)]} if version == "v2" else one
    before = preflights(app, f"/events/{version}/store/{{source}}")
    answer = page.evaluate(
        """async ([url, body]) => {
            const response = await fetch(url, {
                method: "POST",
                headers: {"Content-Type": "application/json"},
                body: JSON.stringify(body),
            });
            return {status: response.status, body: await response.json()};
        }""",
        [url, body],
    )
    expected = 2 if version == "v2" else 1
    assert answer == {"status": 200, "body": {"stored": expected, "duplicates": 0}}
    assert preflights(app, f"/events/{version}/store/{{source}}") == before + 1
    assert stored(api, tenant, expected) == expected


def test_giosg_tools_request_one_event_by_xhr(page: Page, api: str, tenant: Tenant) -> None:
    """What giosg's event-sending page does: axios (an XMLHttpRequest), one event object,
    ``application/json``, axios's Accept header."""
    answer = page.evaluate(
        """([url, body]) => new Promise((resolve) => {
            const xhr = new XMLHttpRequest();
            xhr.open("POST", url);
            xhr.setRequestHeader("Accept", "application/json, text/plain, */*");
            xhr.setRequestHeader("Content-Type", "application/json");
            xhr.onload = () => resolve({status: xhr.status, body: JSON.parse(xhr.responseText)});
            xhr.onerror = () => resolve({status: 0, body: null});
            xhr.send(JSON.stringify(body));
        })""",
        [f"{api}{STORE_V2}", page_event(tenant, vendor=VENDOR, dim1="giosg-tool")],
    )
    assert answer == {"status": 200, "body": {"stored": 1, "duplicates": 0}}
    assert stored(api, tenant, 1) == 1


def test_send_beacon_stores_a_batch_and_a_single_event(
    page: Page, api: str, tenant: Tenant
) -> None:
    one = page_event(tenant, vendor=VENDOR)  # no id: each of the three is stored
    queued = page.evaluate(
        """([url, batch, single]) => [
            navigator.sendBeacon(url, JSON.stringify(batch)),
            navigator.sendBeacon(url, JSON.stringify(single)),
        ]""",
        [f"{api}{STORE_V2}", {"events": [one, one]}, one],
    )
    assert queued == [True, True]
    assert stored(api, tenant, 3) == 3


SNIPPET_PAGE = """async ([api, organization, vendor, refuseBeacon]) => {
    const beacons = [];
    const fetches = [];
    const sendBeacon = navigator.sendBeacon.bind(navigator);
    navigator.sendBeacon = (url, data) => {
        beacons.push(JSON.parse(data).events.length);
        return refuseBeacon ? false : sendBeacon(url, data);
    };
    const originalFetch = window.fetch;
    window.fetch = (url, init) => {
        fetches.push({events: JSON.parse(init.body).events.length, keepalive: init.keepalive});
        return originalFetch(url, init);
    };
    await new Promise((resolve, reject) => {
        const script = document.createElement("script");
        script.src = api + "/events/v2/tallybook.js";
        script.onload = resolve;
        script.onerror = () => reject(new Error("the snippet did not load"));
        document.head.appendChild(script);
    });
    const tallybook = Tallybook.create({organization_id: organization});
    for (const action of ["viewed", "added", "paid"]) {
        tallybook.send({vendor, category: "cart", action, label: "sku-1"});
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
    return {beacons, fetches, endpoint: tallybook.endpoint};
}"""


def test_the_snippet_batches_one_tick_into_one_beacon(page: Page, api: str, tenant: Tenant) -> None:
    result = page.evaluate(SNIPPET_PAGE, [api, str(tenant.org_id), VENDOR, False])
    assert result == {"beacons": [3], "fetches": [], "endpoint": f"{api}{STORE_V2}"}
    assert stored(api, tenant, 3) == 3


def test_the_snippet_falls_back_to_fetch_with_keepalive(
    page: Page, api: str, tenant: Tenant
) -> None:
    result = page.evaluate(SNIPPET_PAGE, [api, str(tenant.org_id), VENDOR, True])
    assert result["beacons"] == [3]
    assert result["fetches"] == [{"events": 3, "keepalive": True}]
    assert stored(api, tenant, 3) == 3


def test_a_page_cannot_use_the_token_api_from_another_origin(
    page: Page, api: str, tenant: Tenant
) -> None:
    """The rest of the API gives web pages nothing unless an operator allows their origin:
    the browser refuses to let the page see the answer."""
    outcome = page.evaluate(
        """async ([url, token]) => {
            try {
                await fetch(url, {
                    method: "POST",
                    headers: {"Content-Type": "application/json", "Authorization": token},
                    body: JSON.stringify({events: []}),
                });
                return "answered";
            } catch (error) {
                return error.name;
            }
        }""",
        [f"{api}/events/v2/store/trusted", tenant.headers["Authorization"]],
    )
    assert outcome == "TypeError"
