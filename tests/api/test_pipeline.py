"""The HTTP request pipeline of issue 9 (rows 1, 8, 9, 10) and issue 16 (item 2): body
depth, size and parse errors, content types, 405s and CORS, with the probe's requests."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from tallybook.app import create_app
from tallybook.events.store import EventStore
from tallybook.kit.body import MAX_JSON_DEPTH, json_depth, value_depth
from tallybook.kit.db import Database
from tests.events.factories import STORE, event
from tests.fixtures.tenants import Tenant
from tests.targets.factories import SEED_TARGET, make_workflow, targets_url

INTERVAL = {"start": "2021-07-01T00:00:00Z", "end": "2021-08-01T00:00:00Z"}
JSON = {"Content-Type": "application/json"}
DOCUMENTED_CODES = {"invalid", "too_deep", "unsupported_media_type", "payload_too_large"}


def nots(levels: int) -> dict[str, Any]:
    node: dict[str, Any] = {"type": "selector", "dimension": "label", "value": "x"}
    for _ in range(levels):
        node = {"type": "not", "field": node}
    return node


LEAF = b'{"type": "selector", "dimension": "label", "value": "x"}'


def deep_filter(kind: str, levels: int) -> bytes:
    """A filter nested ``levels`` deep, as bytes (encoders stop at a few hundred levels)."""
    if kind == "not":
        return b'{"type": "not", "field": ' * levels + LEAF + b"}" * levels
    return b'{"type": "%s", "fields": [' % kind.encode() * levels + LEAF + b"]}" * levels


def fetch_url(tenant: Tenant) -> str:
    return f"/api/events/v2/orgs/{tenant.org_id}/fetch"


def fetch_body(filters: dict[str, Any]) -> dict[str, Any]:
    return {"vendor": "v", "interval": INTERVAL, "filters": filters}


# --- depth -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        b"{}",
        b"[]",
        b"1",
        b'{"a": [1, {"b": "[[[{{{"}]}',
        b'{"a": "\\"[\\\\", "b": [[]]}',
        b'{"a": "\\\\"}',
        b'{"x": "}}}", "y": [{"z": ["]"]}]}\n{"k": [1]}',
        orjson.dumps({"events": [{"properties": ["a", "b"]}] * 3}),
        orjson.dumps(nots(40)),
    ],
)
def test_byte_depth_matches_the_parsed_depth(raw: bytes) -> None:
    lines = raw.split(b"\n")
    expected = max(value_depth(orjson.loads(line), limit=1000) for line in lines)
    assert json_depth(raw, limit=1000) == expected


@pytest.mark.parametrize("levels", [170, 200, 250, 950, 1000, 5000])
def test_fetch_with_deep_not_is_400_too_deep(
    client: TestClient, tenant: Tenant, levels: int
) -> None:
    """Issue 9, row 1: `not` nested 170–250 and ~950–1000 deep answered 500."""
    body = b'{"vendor": "v", "interval": %s, "filters": %s}' % (
        orjson.dumps(INTERVAL),
        deep_filter("not", levels),
    )
    response = client.post(fetch_url(tenant), content=body, headers={**tenant.headers, **JSON})
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "too_deep"


@pytest.mark.parametrize("kind", ["not", "and", "or"])
def test_target_with_deep_filters_is_refused_at_creation(
    client: TestClient, tenant: Tenant, kind: str
) -> None:
    """Issue 9, rows 1 and 10: a target nested 200 (or ~1,000) deep was stored, then failed
    in /test and the worker; 1,000 deep answered http_error."""
    url = targets_url(tenant, make_workflow(client, tenant))
    for levels in (200, 1000):
        target = orjson.dumps({**SEED_TARGET, "reporting_query": {"vendor": "v"}})
        body = target.replace(
            b'"vendor":"v"', b'"vendor":"v","filters":' + deep_filter(kind, levels)
        )
        response = client.post(url, content=body, headers={**tenant.headers, **JSON})
        assert response.status_code == 400, response.text
        assert response.json()["code"] == "too_deep"
    assert client.get(url, headers=tenant.headers).json() == []


@pytest.mark.parametrize("kind", ["not", "and", "or"])
def test_target_at_the_limit_is_stored_and_tested(
    client: TestClient, tenant: Tenant, kind: str
) -> None:
    url = targets_url(tenant, make_workflow(client, tenant))
    levels = MAX_JSON_DEPTH - 3 if kind == "not" else (MAX_JSON_DEPTH - 3) // 2
    target = orjson.dumps({**SEED_TARGET, "reporting_query": {"vendor": "v"}})
    body = target.replace(b'"vendor":"v"', b'"vendor":"v","filters":' + deep_filter(kind, levels))
    assert json_depth(body) == MAX_JSON_DEPTH - (kind != "not")
    created = client.post(url, content=body, headers={**tenant.headers, **JSON})
    assert created.status_code == 201, created.text
    tested = client.get(f"{url}/{created.json()['id']}/test", headers=tenant.headers)
    assert tested.status_code == 200, tested.text


def test_depth_limit_is_exact(client: TestClient, tenant: Tenant) -> None:
    # body 1, filters 2, each `not` 1 more: the selector is at depth levels + 2
    at_limit = fetch_body(nots(MAX_JSON_DEPTH - 2))
    assert value_depth(at_limit, limit=1000) == MAX_JSON_DEPTH
    ok = client.post(fetch_url(tenant), json=at_limit, headers=tenant.headers)
    assert ok.status_code == 200, ok.text
    over = client.post(
        fetch_url(tenant), json=fetch_body(nots(MAX_JSON_DEPTH - 1)), headers=tenant.headers
    )
    assert over.status_code == 400
    assert over.json()["code"] == "too_deep"


@pytest.mark.parametrize("levels", [100, 1_000_000])
@pytest.mark.parametrize("shape", ["batch", "one event", "one event on v1"])
def test_deep_event_bodies_are_too_deep(
    client: TestClient, tenant: Tenant, shape: str, levels: int
) -> None:
    """The plain path reads a batch before the depth check (its schema nests 3 levels); a
    body it refuses is checked before anything else parses it."""
    deep = b"[" * levels + b'"x"' + b"]" * levels
    one = orjson.dumps(event(tenant)).replace(b'"label":', b'"properties":' + deep + b',"label":')
    body = b'{"events":[' + one + b"]}" if shape == "batch" else one
    path = "/events/v1/store/untrusted" if shape.endswith("v1") else f"{STORE}/untrusted"
    response = client.post(path, content=body, headers=JSON)
    assert response.status_code == 400
    assert response.json()["code"] == "too_deep"


# --- size and parse errors -------------------------------------------------------------


def _chunks(total: int, size: int = 1 << 20) -> Iterator[bytes]:
    yield b'{"name": "'
    sent = 0
    while sent < total:
        yield b"x" * size
        sent += size
    yield b'"}'


@pytest.mark.parametrize("route", ["workflows", "fetch", "trusted", "untrusted", "import"])
def test_chunked_body_over_the_limit_is_413(client: TestClient, tenant: Tenant, route: str) -> None:
    """Issue 9, row 10: 12 MB chunked without Content-Length answered 400 http_error."""
    url = {
        "workflows": f"{tenant.objectives}/workflows",
        "fetch": fetch_url(tenant),
        "trusted": f"{STORE}/trusted",
        "untrusted": f"{STORE}/untrusted",
        "import": f"{tenant.v5}/rooms/{uuid.uuid4()}/chats/import",
    }[route]
    size = 12 * 1024 * 1024 if route != "import" else 201 * 1024 * 1024
    response = client.post(url, content=_chunks(size), headers={**tenant.headers, **JSON})
    assert response.status_code == 413, response.text[:300]
    assert response.json()["code"] == "payload_too_large"


@pytest.mark.parametrize(
    "raw",
    [b"{not json", b"", b"   ", b"\xff\xfe{}", b'{"name": "a"', b"[1,]", b"\x00", b"nan"],
)
def test_unparseable_bodies_are_400_with_a_documented_code(
    client: TestClient, tenant: Tenant, raw: bytes
) -> None:
    urls = [f"{tenant.objectives}/workflows", fetch_url(tenant), f"{STORE}/trusted"]
    urls.append(f"{STORE}/untrusted")
    for url in urls:
        response = client.post(url, content=raw, headers={**tenant.headers, **JSON})
        assert response.status_code == 400, (url, response.text)
        body = response.json()
        assert body["code"] in DOCUMENTED_CODES, (url, body)
        assert "http_error" not in response.text


# --- content types ---------------------------------------------------------------------

REFUSED = ["application/xml", "text/xml", "application/x-www-form-urlencoded", "text/html"]


@pytest.mark.parametrize("content_type", [*REFUSED, "text/plain"])
def test_json_endpoints_refuse_other_content_types(
    client: TestClient, tenant: Tenant, content_type: str
) -> None:
    """Issue 9, row 9: the event endpoints took text/plain, XML and forms."""
    calls = [
        (f"{tenant.objectives}/workflows", {"name": "wf"}),
        (fetch_url(tenant), {"vendor": "v", "interval": INTERVAL}),
        (f"{STORE}/trusted", {"events": [event(tenant)]}),
        (f"{STORE}/external", {"events": [event(tenant)]}),
    ]
    for url, body in calls:
        headers = {**tenant.headers, "Content-Type": content_type}
        response = client.post(url, content=orjson.dumps(body), headers=headers)
        assert response.status_code == 415, (url, response.text)
        assert response.json()["code"] == "unsupported_media_type"


@pytest.mark.parametrize("content_type", REFUSED)
def test_browser_ingestion_refuses_other_content_types(
    client: TestClient, tenant: Tenant, content_type: str
) -> None:
    body = orjson.dumps({"events": [event(tenant)]})
    response = client.post(
        f"{STORE}/untrusted", content=body, headers={"Content-Type": content_type}
    )
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"


@pytest.mark.parametrize(
    "content_type",
    [None, "application/json", "application/json; charset=utf-8", "text/plain;charset=UTF-8"],
)
def test_browser_ingestion_reads_text_plain_as_json(
    client: TestClient, tenant: Tenant, content_type: str | None
) -> None:
    """What navigator.sendBeacon(url, JSON.stringify(batch)) sends (issue 16, item 2)."""
    headers = {} if content_type is None else {"Content-Type": content_type}
    body = orjson.dumps({"events": [event(tenant, id=str(uuid.uuid4()))]})
    response = client.post(f"{STORE}/untrusted", content=body, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json() == {"stored": 1, "duplicates": 0}


def test_a_body_without_content_type_is_read_as_json(client: TestClient, tenant: Tenant) -> None:
    url = f"{tenant.objectives}/workflows"
    response = client.post(url, content=b'{"name": "wf"}', headers=tenant.headers)
    assert response.status_code == 201, response.text


# --- 405 and Allow ---------------------------------------------------------------------


def test_405_lists_every_method_of_the_path(client: TestClient, tenant: Tenant) -> None:
    """Issue 9, row 8: OPTIONS on a path with several methods answered Allow: GET."""
    workflow = make_workflow(client, tenant)
    cases = [
        ("OPTIONS", f"{tenant.objectives}/workflows", "GET, POST"),
        ("PUT", f"{tenant.objectives}/workflows/", "GET, POST"),
        ("OPTIONS", f"{tenant.objectives}/workflows/{workflow}", "GET, PATCH, DELETE"),
        ("POST", f"{tenant.objectives}/workflows/{workflow}", "GET, PATCH, DELETE"),
        ("GET", f"{STORE}/untrusted", "POST, OPTIONS"),
        ("GET", fetch_url(tenant), "POST"),
    ]
    for method, url, allow in cases:
        response = client.request(method, url, headers=tenant.headers)
        assert response.status_code == 405, (method, url)
        assert response.headers["allow"] == allow, (method, url)
        assert response.json()["code"] == "method_not_allowed"


# --- CORS ------------------------------------------------------------------------------

ORIGIN = "https://shop.example.com"
V1 = "/events/v1/store"
BROWSER_URLS = [f"{STORE}/untrusted", f"{V1}/untrusted"]


@pytest.mark.parametrize("url", BROWSER_URLS)
def test_browser_ingestion_answers_preflights(client: TestClient, url: str) -> None:
    response = client.options(
        url,
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["access-control-allow-methods"] == "POST"
    allowed = {
        h.strip().lower() for h in response.headers["access-control-allow-headers"].split(",")
    }
    assert {"content-type", "accept", "x-requested-with"} <= allowed
    assert int(response.headers["access-control-max-age"]) >= 600
    assert "access-control-allow-credentials" not in response.headers
    # the trailing slash is optional there too
    assert client.options(f"{url}/", headers={"Origin": ORIGIN}).status_code == 204


@pytest.mark.parametrize("url", BROWSER_URLS)
def test_browser_ingestion_answers_carry_the_origin_header(
    client: TestClient, tenant: Tenant, url: str
) -> None:
    headers = {"Origin": ORIGIN, **JSON}
    ok = client.post(url, json=event(tenant), headers=headers)
    bad = client.post(url, content=b"{", headers=headers)
    big = client.post(url, content=_chunks(11 * 1024 * 1024), headers=headers)
    for response, status in ((ok, 200), (bad, 400), (big, 413)):
        assert response.status_code == status
        assert response.headers["access-control-allow-origin"] == "*"
        assert "access-control-allow-credentials" not in response.headers


def test_the_snippet_is_served_to_any_page(client: TestClient) -> None:
    response = client.get("/events/v2/tallybook.js", headers={"Origin": ORIGIN})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/javascript; charset=utf-8"
    assert response.headers["access-control-allow-origin"] == "*"
    assert "max-age" in response.headers["cache-control"]
    assert b"/events/v2/store/untrusted" in response.content
    assert b"sendBeacon" in response.content


def test_other_paths_refuse_cross_origin_use_by_default(client: TestClient, tenant: Tenant) -> None:
    preflight = {"Origin": ORIGIN, "Access-Control-Request-Method": "POST"}
    workflows = f"{tenant.objectives}/workflows"
    urls = (f"{STORE}/trusted", f"{V1}/trusted", fetch_url(tenant), workflows)
    for url in urls:
        response = client.options(url, headers=preflight)
        assert "access-control-allow-origin" not in response.headers, url
    response = client.get(
        f"{tenant.objectives}/workflows", headers={**tenant.headers, "Origin": ORIGIN}
    )
    assert response.status_code == 200
    assert "access-control-allow-origin" not in response.headers


@pytest.fixture
def cors_client(database: Database, event_store: EventStore) -> Iterator[TestClient]:
    settings = database.settings.model_copy(
        update={"cors_origins": f"{ORIGIN}, https://console.example.com/"}
    )
    app = create_app(settings, database, event_store)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def test_operator_origins_may_use_the_api(cors_client: TestClient, tenant: Tenant) -> None:
    url = f"{tenant.objectives}/workflows"
    for origin in (ORIGIN, "https://console.example.com"):
        preflight = cors_client.options(
            url,
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization, content-type",
            },
        )
        assert preflight.status_code == 200, preflight.text
        assert preflight.headers["access-control-allow-origin"] == origin
        response = cors_client.get(url, headers={**tenant.headers, "Origin": origin})
        assert response.headers["access-control-allow-origin"] == origin
    other = cors_client.get(url, headers={**tenant.headers, "Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers
    # browser ingestion stays open to every origin
    public = cors_client.options(
        f"{STORE}/untrusted",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert public.status_code == 204
    assert public.headers["access-control-allow-origin"] == "*"


# --- the OpenAPI document --------------------------------------------------------------


def test_openapi_documents_415_wherever_a_body_is_read(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if "requestBody" in operation:
                assert "415" in operation["responses"], (method, path)
    untrusted = document["paths"]["/events/v2/store/{source}"]
    assert "text/plain" in untrusted["post"]["requestBody"]["content"]
    assert "options" in untrusted
