"""Downloads of source data: the JSON answer's rows as CSV and XLSX files, read back with
the csv module and openpyxl; formula escaping; memory flat in the number of rows."""

from __future__ import annotations

import csv
import gc
import io
import json
import tracemalloc
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, get_args

import anyio
import openpyxl
import pytest
from fastapi.testclient import TestClient

from tallybook.app import create_app
from tallybook.events.store import EventStore, open_event_store
from tallybook.funnels.schemas import Format
from tallybook.kit.db import Database
from tallybook.kit.migrate import upgrade
from tallybook.kit.tabular import MEDIA_TYPES, FileFormat
from tallybook.settings import Settings
from tests.fixtures.tenants import Tenant, make_tenant
from tests.funnels.factories import (
    T0,
    create_workflow,
    goal_event,
    payload,
    source_url,
    step_event,
    step_url,
)

HOSTILE = ['=HYPERLINK("http://x")', "+1", "-2", "@SUM(A1)"]


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@pytest.fixture
def workflow(client: TestClient, tenant: Tenant, event_store: EventStore) -> uuid.UUID:
    wf = create_workflow(client, tenant, "interaction")
    org = tenant.org_id
    event_store.insert(
        [
            step_event(org, wf, 1, at(1), session_id="s1", properties=("a", "b"), value=2.5,
                       browser_name="Firefox", dim4="Välkommen"),
            step_event(org, wf, 1, at(2.125), session_id="s2", action=HOSTILE[0],
                       dim4=HOSTILE[1], geo_city=HOSTILE[2], os_name=HOSTILE[3]),
            goal_event(org, "goal-1", at(3), session_id="s1"),
        ]
    )  # fmt: skip
    return wf


def download(client: TestClient, tenant: Tenant, url: str, body: dict[str, Any]) -> Any:
    response = client.post(f"{url}/download/", json=body, headers=tenant.headers)
    assert response.status_code == 200, response.text
    return response


def read_csv(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


def read_xlsx(data: bytes) -> list[list[Any]]:
    book = openpyxl.load_workbook(io.BytesIO(data))
    (sheet,) = book.worksheets
    return [[cell.value for cell in row] for row in sheet.iter_rows()]


def as_csv_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return json.dumps(value, separators=(",", ":"))
    if isinstance(value, str) and value.startswith(("=", "+", "-", "@")):
        return "'" + value
    return str(value)


def test_the_format_literal_matches_the_enum() -> None:
    assert set(get_args(Format)) == {f.value for f in FileFormat}


@pytest.mark.parametrize("basic", [False, True])
def test_csv_has_the_json_answers_rows(
    client: TestClient, tenant: Tenant, workflow: uuid.UUID, basic: bool
) -> None:
    url = step_url(tenant, workflow, 1)
    answer = client.post(url, json=payload(basic=basic), headers=tenant.headers).json()
    response = download(client, tenant, url, payload(basic=basic))
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == (
        f'attachment; filename="workflow-{workflow}-step-1.csv"'
    )
    header, *rows = read_csv(response.content)
    assert header == [field["name"] for field in answer["fields"]]
    expected = [[as_csv_text(row[name]) for name in header] for row in answer["data"]]
    assert rows == expected and len(rows) == 2


def test_csv_values_by_kind(client: TestClient, tenant: Tenant, workflow: uuid.UUID) -> None:
    response = download(client, tenant, step_url(tenant, workflow, 1), payload())
    header, first, second = read_csv(response.content)
    row = dict(zip(header, first, strict=True))
    assert row["timestamp"] == "2022-11-03T00:00:01.000Z"
    assert row["properties"] == '["a","b"]' and row["partner_organization_ids"] == "[]"
    assert row["value"] == "2.5" and row["event_version"] == "1"
    assert row["dim4"] == "Välkommen" and row["user_id"] == ""
    escaped = dict(zip(header, second, strict=True))
    assert escaped["timestamp"] == "2022-11-03T00:00:02.125Z"
    assert [escaped[n] for n in ("action", "dim4", "geo_city", "os_name")] == [
        "'" + text for text in HOSTILE
    ]


@pytest.mark.parametrize("basic", [False, True])
def test_xlsx_has_the_json_answers_rows(
    client: TestClient, tenant: Tenant, workflow: uuid.UUID, basic: bool
) -> None:
    url = step_url(tenant, workflow, 1)
    answer = client.post(url, json=payload(basic=basic), headers=tenant.headers).json()
    response = download(client, tenant, url, payload(basic=basic, format="xlsx"))
    assert response.headers["content-type"] == MEDIA_TYPES[FileFormat.XLSX]
    assert response.headers["content-disposition"].endswith('-step-1.xlsx"')
    header, *rows = read_xlsx(response.content)
    names = [field["name"] for field in answer["fields"]]
    assert header == names
    assert len(rows) == 2
    first = dict(zip(names, rows[0], strict=True))
    when = "Date & Time" if basic else "timestamp"
    assert first[when] == datetime(2022, 11, 3, 0, 0, 1)  # a date cell, in UTC
    if basic:
        assert first["View title"] == "Välkommen"
        assert first["Interaction Workflow ID"] == str(workflow)
        assert rows[1][names.index("View title")] == "'+1"
    else:
        assert first["value"] == 2.5 and first["event_version"] == 1
        assert first["properties"] == '["a","b"]'
        second = dict(zip(names, rows[1], strict=True))
        assert [second[n] for n in ("action", "dim4", "geo_city", "os_name")] == [
            "'" + text for text in HOSTILE
        ]


def test_source_data_downloads(client: TestClient, tenant: Tenant, workflow: uuid.UUID) -> None:
    url = source_url(tenant, workflow)
    for target, stem in (("affected_goal", "affected-goals"), ("affected_goal_total", "all-goals")):
        body = payload(target=target, format="csv")
        response = download(client, tenant, url, body)
        assert response.headers["content-disposition"].endswith(f'-{stem}.csv"')
        header, *rows = read_csv(response.content)
        assert [row[header.index("label")] for row in rows] == ["goal-1"]
    goals = download(
        client, tenant, step_url(tenant, workflow, 1), payload(target="triggered_goal")
    )
    assert "-step-1-triggered-goals.csv" in goals.headers["content-disposition"]
    assert len(read_csv(goals.content)) == 2


def test_limit_filters_and_step_data_apply(
    client: TestClient, tenant: Tenant, workflow: uuid.UUID
) -> None:
    url = step_url(tenant, workflow, 1)
    assert len(read_csv(download(client, tenant, url, payload(limit="1")).content)) == 2
    body = payload(filters=[{"property": "session_id", "values": ["s2"]}], format="xlsx")
    assert len(read_xlsx(download(client, tenant, url, body).content)) == 2
    empty = download(
        client, tenant, url, payload(interval={"start": "2022-11-04", "end": "2022-11-05"})
    )
    assert read_csv(empty.content)[1:] == []


@pytest.mark.parametrize("value", ["pdf", "CSV", "", None, 1, ["csv"]])
def test_a_bad_format_is_400(
    client: TestClient, tenant: Tenant, workflow: uuid.UUID, value: Any
) -> None:
    for url in (step_url(tenant, workflow, 1), source_url(tenant, workflow)):
        response = client.post(
            f"{url}/download", json=payload(format=value), headers=tenant.headers
        )
        assert response.status_code == 400, response.text
        assert response.json()["errors"][0]["loc"] == ["body", "format"]


def test_format_belongs_to_downloads_only(
    client: TestClient, tenant: Tenant, workflow: uuid.UUID
) -> None:
    response = client.post(
        step_url(tenant, workflow, 1), json=payload(format="csv"), headers=tenant.headers
    )
    assert response.status_code == 400


def test_download_refusals(
    client: TestClient,
    tenant: Tenant,
    new_tenant: Callable[..., Tenant],
    workflow: uuid.UUID,
) -> None:
    theirs = create_workflow(client, new_tenant())
    chat = create_workflow(client, tenant, "chat")
    cases = [
        (step_url(tenant, theirs, 1), payload(), 404),
        (source_url(tenant, theirs), payload(), 404),
        (step_url(tenant, workflow, "x"), payload(), 404),
        (source_url(tenant, chat), payload(), 406),
        (step_url(tenant, workflow, 1), payload(filters=[{"property": "x", "values": [1]}]), 406),
        (step_url(tenant, workflow, 1), payload(limit=0), 400),
    ]
    for url, body, status in cases:
        response = client.post(f"{url}/download", json=body, headers=tenant.headers)
        assert response.status_code == status, (url, response.text)
        assert response.headers["content-type"] == "application/json"


# -- memory -------------------------------------------------------------------------------


def _peak_while_downloading(app: Any, path: str, headers: dict[str, str], body: bytes) -> int:
    """The peak of Python allocations while the app serves one download through ASGI,
    the body's chunks thrown away as they are sent (a test client would keep them)."""
    sent: list[int] = []
    done = anyio.Event()

    async def receive() -> dict[str, Any]:
        if not sent:
            sent.append(0)
            return {"type": "http.request", "body": body, "more_body": False}
        await done.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            sent.append(message["status"])
        elif message["type"] == "http.response.body":
            sent[0] += len(message.get("body", b""))

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
    }

    async def serve() -> None:
        await app(scope, receive, send)
        done.set()

    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        anyio.run(serve)
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    assert sent[1] == 200 and sent[0] > 0, sent
    return peak


def test_a_large_downloads_memory_is_flat(tmp_path: Path) -> None:
    """Four times the rows (10,000 → 40,000 rows, 8 batches of the store's cursor) and
    the peak of the server's Python memory stays that of one batch. One app of its own:
    the relational backend plays no part in it."""
    settings = Settings(data_dir=tmp_path, secret_key="memory", _env_file=None)
    database = Database(settings)
    upgrade(database.engine)
    store = open_event_store(settings)
    app = create_app(settings, database, store)
    try:
        tenant = make_tenant(database)
        with TestClient(app) as client:
            small, large = (create_workflow(client, tenant, "chat") for _ in range(2))
        for wf, count in ((small, 10_000), (large, 40_000)):
            store.insert(
                [
                    step_event(tenant.org_id, wf, 1, at(i * 0.01), session_id=f"s{i}")
                    for i in range(count)
                ]
            )
        headers = {**tenant.headers, "content-type": "application/json"}
        body = json.dumps(payload()).encode()

        def peak(wf: uuid.UUID) -> int:
            """The lower of two downloads' peaks, each from a collected heap: what a busy
            test process left uncollected, or a thread scheduled late, is not the rows'."""
            url = f"{step_url(tenant, wf, 1)}/download"
            peaks = []
            for _ in range(2):
                gc.collect()
                peaks.append(_peak_while_downloading(app, url, headers, body))
            return min(peaks)

        peak(small)  # first-use allocations (imports, caches) are not the rows'
        small_peak, large_peak = peak(small), peak(large)
    finally:
        store.close()
        database.close()
    assert large_peak < 1.5 * small_peak, (small_peak, large_peak)
    assert large_peak < 64 * 2**20
