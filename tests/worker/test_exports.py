"""Report exports made by the real worker and opened with real readers: every type ×
format, both filters, formula escaping, the sheet split, the signed link (Range, a
tampered link, expiry and 410), retries and the bounded failure (both backends)."""

from __future__ import annotations

import csv
import dataclasses
import io
import logging
import socket
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import openpyxl
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from sqlalchemy import select, update

from tallybook.app import create_app
from tallybook.events.store import EventStore
from tallybook.exports.flow import _Renewer
from tallybook.exports.models import ReportExport
from tallybook.kit.db import Database, utcnow
from tallybook.worker.config import WorkerConfig
from tallybook.worker.loop import Worker
from tests.exports.factories import (
    FORMULA,
    RANGE_END,
    RANGE_START,
    ZONE,
    ExportApi,
    Sample,
    logs,
    sample_room,
    stats,
)
from tests.fixtures.tenants import Tenant, make_tenant
from tests.worker.factories import make_worker, worker_settings

LOG_HEADER = [
    "chat_id",
    "chat_created_at",
    "chat_ended_at",
    "message_created_at",
    "sender_type",
    "sender_name",
    "message_type",
    "message",
]
STATS_HEADER = [
    "date",
    "visitors_with_conversation_count",
    "visitors_with_chat_count",
    "visitors_affected_by_chat_count",
    "visitors_autosuggested_count",
    "conversation_count",
    "chats_from_autosuggest_count",
    "chats_from_user_count",
    "chats_from_visitor_count",
    "visitor_message_count",
    "user_message_count",
    "missed_chat_count",
]
# The sample room's statistics, worked out by hand from tests/exports/factories.py.
DAILY = [
    ["2024-03-01", 1, 1, 1, 0, 1, 0, 0, 1, 2, 3, 0],
    ["2024-03-02", 0, 2, 2, 1, 0, 1, 0, 1, 3, 1, 1],
    ["2024-03-03", 0, 0, 1, 0, 0, 0, 1, 0, 0, 1, 0],
    ["2024-03-04", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    ["2024-03-05", 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0],
    ["2024-03-06", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    ["total", 1, 2, 4, 1, 1, 1, 1, 2, 5, 5, 1],
]
ALL_CHATS = ["A", "B", "C", "H", "D", "E"]  # in the range, in creation order


@pytest.fixture
def files(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Settings of the file store that the app and the worker share: the local directory,
    unless a test runs ``ON_EVERY_STORE``, then also a bucket of a real S3 API on loopback."""
    if getattr(request, "param", "local") == "local":
        return {}
    return {"files_url": request.getfixturevalue("s3_files_url")}


ON_EVERY_STORE = pytest.mark.parametrize("files", ["local", "s3"], indirect=True)


@pytest.fixture
def client(
    app: Any, database: Database, event_store: EventStore, files: dict[str, Any]
) -> Iterator[TestClient]:
    served = create_app(worker_settings(database, **files), database, event_store) if files else app
    with TestClient(served, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def helsinki(database: Database) -> Tenant:
    return make_tenant(database, timezone=ZONE)


@pytest.fixture
def exports(client: TestClient, helsinki: Tenant) -> ExportApi:
    return ExportApi(client, helsinki)


@pytest.fixture
def sample(exports: ExportApi) -> Sample:
    return sample_room(exports)


def _in_range(room_id: str, kind: str = "logs", **fields: Any) -> dict[str, Any]:
    make = logs if kind == "logs" else stats
    return make(room_id, starting_at=RANGE_START, ending_at=RANGE_END, **fields)


def _worker(database: Database, event_store: EventStore, **overrides: Any) -> Worker:
    return make_worker(database, event_store, **overrides)


def _made(
    exports: ExportApi,
    database: Database,
    event_store: EventStore,
    payload: dict[str, Any],
    **overrides: Any,
) -> dict[str, Any]:
    """Start the export, let a worker make it, and read it again."""
    started = exports.start(payload)
    done = _worker(database, event_store, **overrides).export(utcnow())
    assert done.get("completed") == 1, done
    export: dict[str, Any] = exports.get(started["id"])
    assert export["is_failed"] is False and export["error"] is None
    assert export["completed_at"] is not None and export["url"] is not None
    return export


def _download(client: TestClient, export: dict[str, Any], **headers: str) -> Any:
    response = client.get(export["url"], headers=headers)  # no token: the link is the key
    assert response.status_code in (200, 206), response.text
    return response


def _csv(client: TestClient, export: dict[str, Any]) -> list[list[str]]:
    response = _download(client, export)
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    return list(csv.reader(io.StringIO(response.content.decode("utf-8"))))


def _xlsx(client: TestClient, export: dict[str, Any]) -> list[list[list[Any]]]:
    response = _download(client, export)
    assert response.headers["content-type"].startswith("application/vnd.openxmlformats")
    book = openpyxl.load_workbook(io.BytesIO(response.content), read_only=True)
    return [[list(row) for row in sheet.iter_rows(values_only=True)] for sheet in book]


def _chat_ids(rows: list[list[Any]]) -> list[str]:
    return list(dict.fromkeys(str(row[0]) for row in rows))


@ON_EVERY_STORE
def test_logs_csv(
    client: TestClient,
    exports: ExportApi,
    sample: Sample,
    database: Database,
    event_store: Any,
    files: dict[str, Any],
) -> None:
    export = _made(exports, database, event_store, _in_range(sample.room_id), **files)
    header, *rows = _csv(client, export)
    assert header == LOG_HEADER
    assert _chat_ids(rows) == [sample.id(c) for c in ALL_CHATS]
    assert len(rows) == 5 + 3 + 2 + 1 + 2 + 1  # E, without messages, has one empty row
    first = rows[0]
    assert first == [
        sample.id("A"),
        "2024-03-01T10:00:00.000Z",
        "2024-03-01T10:30:00.000Z",
        "2024-03-01T10:01:00.000Z",
        "visitor",
        "Vera",
        "msg",
        "Hi",
    ]
    # Text that a spreadsheet would run as a formula is escaped with a leading quote.
    assert rows[2][7] == "'" + FORMULA
    assert rows[3][7] == "'+1 555 0100"
    assert rows[4][7] == "Bye\nsee you"
    assert rows[5][6:] == ["autosuggest", "Need help?"]
    assert rows[6][7] == "'-5% discount?"
    assert rows[7][7] == "'@team will answer"
    assert rows[8][5] == ""  # no sender name
    assert rows[12][6:] == ["join", ""]
    assert rows[-1] == [sample.id("E"), "2024-03-05T08:00:00.000Z", "", "", "", "", "", ""]


@ON_EVERY_STORE
def test_logs_xlsx_continues_on_new_sheets(
    client: TestClient,
    exports: ExportApi,
    sample: Sample,
    database: Database,
    event_store: Any,
    files: dict[str, Any],
) -> None:
    started = exports.start(_in_range(sample.room_id, format="xlsx"))
    config = dataclasses.replace(
        WorkerConfig.from_settings(worker_settings(database, **files)), export_sheet_rows=5
    )
    worker = Worker(
        database, event_store, worker_settings(database, **files), name="sheets", config=config
    )
    assert worker.export(utcnow()) == {"completed": 1}
    sheets = _xlsx(client, exports.get(started["id"]))
    assert [len(sheet) for sheet in sheets] == [6, 6, 5]  # 14 rows, 5 a sheet, headers
    assert all(sheet[0] == LOG_HEADER for sheet in sheets)
    rows = [row for sheet in sheets for row in sheet[1:]]
    assert _chat_ids(rows) == [sample.id(c) for c in ALL_CHATS]
    assert rows[0][1] == datetime(2024, 3, 1, 10, 0)  # a date cell, in UTC
    assert rows[0][3] == datetime(2024, 3, 1, 10, 1)
    assert rows[2][7] == "'" + FORMULA
    assert rows[3][7] == "'+1 555 0100"
    assert rows[6][7] == "'-5% discount?"
    assert rows[7][7] == "'@team will answer"
    assert rows[-1][2:] == [None] * 6


def test_no_xlsx_cell_is_a_formula(
    client: TestClient, exports: ExportApi, sample: Sample, database: Database, event_store: Any
) -> None:
    export = _made(exports, database, event_store, _in_range(sample.room_id, format="xlsx"))
    response = _download(client, export)
    book = openpyxl.load_workbook(io.BytesIO(response.content))  # not read-only: data types
    types = {cell.data_type for sheet in book for row in sheet.iter_rows() for cell in row}
    assert "f" not in types
    assert types <= {"s", "d", "n"}


@ON_EVERY_STORE
def test_logs_txt_is_a_readable_transcript(
    client: TestClient,
    exports: ExportApi,
    sample: Sample,
    database: Database,
    event_store: Any,
    files: dict[str, Any],
) -> None:
    export = _made(exports, database, event_store, _in_range(sample.room_id, format="txt"), **files)
    response = _download(client, export)
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    text = response.content.decode("utf-8")
    chats = text.split("\n\n")
    assert len(chats) == len(ALL_CHATS)
    assert chats[0].splitlines() == [
        f"Chat {sample.id('A')}  started 2024-03-01T10:00:00.000Z  ended 2024-03-01T10:30:00.000Z",
        "[2024-03-01T10:01:00.000Z] Vera: Hi",
        "[2024-03-01T10:02:00.000Z] Anna: Hello! How can I help?",
        f"[2024-03-01T10:03:00.000Z] Vera: {FORMULA}",
        "[2024-03-01T10:04:00.000Z] Anna: +1 555 0100",
        "[2024-03-01T10:05:00.000Z] Anna: Bye",
        "    see you",
    ]
    assert chats[1].splitlines()[1] == "[2024-03-01T23:30:00.000Z] Anna (autosuggest): Need help?"
    assert chats[2].splitlines()[1] == "[2024-03-02T09:00:00.000Z] visitor: Anyone?"
    assert chats[4].splitlines()[2] == "[2024-03-03T12:00:01.000Z] Anna (join)"
    assert chats[5] == f"Chat {sample.id('E')}  started 2024-03-05T08:00:00.000Z  not ended\n"


FILTERS: list[tuple[dict[str, Any], list[str]]] = [
    ({"is_real_conversation": True}, ["A"]),
    ({"is_real_conversation": False}, ["B", "C", "H", "D", "E"]),
    ({"min_message_count": 2}, ["A", "B", "C"]),
    ({"min_message_count": 3}, ["A"]),
    ({"is_real_conversation": False, "min_message_count": 1}, ["B", "C", "H", "D"]),
    ({"min_message_count": 0, "is_real_conversation": None}, ALL_CHATS),
]


def test_logs_filters(
    client: TestClient, exports: ExportApi, sample: Sample, database: Database, event_store: Any
) -> None:
    """Both filters, alone and together, each in an export of its own (one pass makes
    them all)."""
    started = [exports.start(_in_range(sample.room_id, **filters))["id"] for filters, _ in FILTERS]
    assert _worker(database, event_store).export(utcnow()) == {"completed": len(FILTERS)}
    for export_id, (filters, expected) in zip(started, FILTERS, strict=True):
        _header, *rows = _csv(client, exports.get(export_id))
        assert _chat_ids(rows) == [sample.id(c) for c in expected], filters


def test_the_range_is_start_inclusive_end_exclusive(
    client: TestClient, exports: ExportApi, sample: Sample, database: Database, event_store: Any
) -> None:
    payload = logs(
        sample.room_id, starting_at="2024-03-01T23:30:00Z", ending_at="2024-03-03T12:00:00Z"
    )
    _header, *rows = _csv(client, _made(exports, database, event_store, payload))
    assert _chat_ids(rows) == [sample.id(c) for c in ("B", "C", "H")]


@ON_EVERY_STORE
def test_stats_csv_one_row_a_day_in_the_organisations_zone_then_totals(
    client: TestClient,
    exports: ExportApi,
    sample: Sample,
    database: Database,
    event_store: Any,
    files: dict[str, Any],
) -> None:
    export = _made(exports, database, event_store, _in_range(sample.room_id, "stats"), **files)
    header, *rows = _csv(client, export)
    assert header == STATS_HEADER
    assert rows == [[str(value) for value in row] for row in DAILY]


@ON_EVERY_STORE
def test_stats_xlsx(
    client: TestClient,
    exports: ExportApi,
    sample: Sample,
    database: Database,
    event_store: Any,
    files: dict[str, Any],
) -> None:
    payload = _in_range(sample.room_id, "stats", format="xlsx")
    (sheet,) = _xlsx(client, _made(exports, database, event_store, payload, **files))
    assert sheet[0] == STATS_HEADER
    assert sheet[1:] == DAILY


def test_stats_of_an_empty_room_are_zero_days_and_a_zero_total(
    client: TestClient, exports: ExportApi, database: Database, event_store: Any
) -> None:
    payload = stats(
        exports.room(), starting_at="2024-03-30T00:00:00+02:00", ending_at="2024-04-01T12:00Z"
    )
    _header, *rows = _csv(client, _made(exports, database, event_store, payload))
    # The clocks go forward in Helsinki on 31 March; the last day is cut by the range.
    assert [row[0] for row in rows] == ["2024-03-30", "2024-03-31", "2024-04-01", "total"]
    assert all(set(row[1:]) == {"0"} for row in rows)


@ON_EVERY_STORE
def test_the_download_link(
    client: TestClient,
    exports: ExportApi,
    sample: Sample,
    database: Database,
    event_store: Any,
    files: dict[str, Any],
) -> None:
    export = _made(exports, database, event_store, _in_range(sample.room_id), **files)
    assert export["url"].startswith("http://testserver/api/v5/downloads/reportexports/")
    completed = datetime.fromisoformat(export["completed_at"])
    assert datetime.fromisoformat(export["expires_at"]) - completed == timedelta(days=7)
    assert exports.get(export["id"])["url"] == export["url"]  # the same link every time
    assert [e["url"] for e in exports.page()["results"]] == [export["url"]]

    whole = _download(client, export)
    assert whole.headers["accept-ranges"] == "bytes"
    assert whole.headers["content-length"] == str(len(whole.content))
    assert whole.headers["content-disposition"] == (
        'attachment; filename="Tuki logs 2024-02-29 to 2024-03-06.csv"'
    )
    assert whole.headers["cache-control"] == "private, no-store"

    part = _download(client, export, Range="bytes=0-7")
    assert (part.status_code, part.content) == (206, whole.content[:8])
    assert part.headers["content-range"] == f"bytes 0-7/{len(whole.content)}"
    tail = _download(client, export, Range="bytes=-5")
    assert (tail.status_code, tail.content) == (206, whole.content[-5:])
    rest = _download(client, export, Range="bytes=10-")
    assert rest.content == whole.content[10:]
    several = _download(client, export, Range="bytes=0-1,4-5")
    assert (several.status_code, several.content) == (200, whole.content)
    beyond = client.get(export["url"], headers={"Range": f"bytes={len(whole.content)}-"})
    assert beyond.status_code == 416
    assert beyond.headers["content-range"] == f"bytes */{len(whole.content)}"
    assert beyond.json()["code"] == "range_not_satisfiable"

    head = client.head(export["url"])
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == str(len(whole.content))


def test_a_download_link_is_never_logged(
    client: TestClient,
    exports: ExportApi,
    sample: Sample,
    database: Database,
    event_store: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The link is its own credential: the request log shows the route, not the token."""
    export = _made(exports, database, event_store, _in_range(sample.room_id))
    token = export["url"].rsplit("/", 1)[1]
    with caplog.at_level(logging.INFO, logger="tallybook.http"):
        assert _download(client, export).status_code == 200
        assert client.get(export["url"] + "/more").status_code == 404
    paths = [getattr(r, "path", None) for r in caplog.records if r.name == "tallybook.http"]
    assert paths == ["/api/v5/downloads/reportexports/{token}"] * 2
    assert not [r for r in caplog.records if token in r.getMessage() or token in str(r.__dict__)]


def test_the_link_honours_the_public_url(
    exports: ExportApi, sample: Sample, database: Database, event_store: Any
) -> None:
    export = _made(exports, database, event_store, _in_range(sample.room_id))
    settings = database.settings.model_copy(update={"public_url": "https://reports.example.com/"})
    behind_proxy = create_app(settings, database, event_store)
    with TestClient(behind_proxy) as proxied:
        api = ExportApi(proxied, exports.tenant)
        url = api.get(export["id"])["url"]
        assert url.startswith("https://reports.example.com/api/v5/downloads/reportexports/")
        assert url.split("/")[-1] == export["url"].split("/")[-1]


def _altered(url: str, where: str) -> str:
    base, token = url.rsplit("/", 1)
    payload, signature = token.split(".")
    if where == "signature":
        signature = ("A" if signature[0] != "A" else "B") + signature[1:]
    elif where == "payload":
        payload = payload[:-2] + ("A" if payload[-2] != "A" else "B") + payload[-1]
    elif where == "truncated":
        signature = signature[:-1]
    else:
        return f"{base}/{where}"
    return f"{base}/{payload}.{signature}"


def test_a_tampered_link_is_403(
    client: TestClient, exports: ExportApi, sample: Sample, database: Database, event_store: Any
) -> None:
    export = _made(exports, database, event_store, _in_range(sample.room_id))
    for where in ("signature", "payload", "truncated", "garbage", "a.b"):
        response = client.get(_altered(export["url"], where))
        assert response.status_code == 403, where
        assert response.json()["code"] == "invalid_link"
    assert _download(client, export).status_code == 200  # the link itself still works


def test_a_link_signed_by_another_installation_is_403(
    exports: ExportApi, sample: Sample, database: Database, event_store: Any
) -> None:
    export = _made(exports, database, event_store, _in_range(sample.room_id))
    settings = database.settings.model_copy(
        update={"secret_key": SecretStr("another-installation")}
    )
    with TestClient(create_app(settings, database, event_store)) as other:
        assert other.get(export["url"]).status_code == 403
        assert ExportApi(other, exports.tenant).get(export["id"])["url"] != export["url"]


def test_after_expiry_the_link_is_410_the_url_null_and_the_file_deleted(
    client: TestClient,
    exports: ExportApi,
    sample: Sample,
    database: Database,
    event_store: Any,
    tmp_path: Path,
) -> None:
    export = _made(exports, database, event_store, _in_range(sample.room_id), export_ttl=1.0)
    assert _download(client, export).content
    key = _file_key(database, export["id"])
    assert key is not None
    stored = database.settings.data_dir / "files" / key
    assert stored.is_file()

    time.sleep(max(0.0, (datetime.fromisoformat(export["expires_at"]) - utcnow()).total_seconds()))
    time.sleep(0.05)
    gone = client.get(export["url"])
    assert (gone.status_code, gone.json()["code"]) == (410, "gone")
    again = exports.get(export["id"])
    assert again["url"] is None
    assert again["expires_at"] == export["expires_at"]  # still says when it expired
    assert stored.is_file()  # until the worker's next pass

    assert _worker(database, event_store).export(utcnow()) == {"expired": 1}
    assert not stored.exists()
    assert _file_key(database, export["id"]) is None
    assert client.get(export["url"]).status_code == 410
    assert _worker(database, event_store).export(utcnow()) == {}


def _file_key(database: Database, export_id: str) -> str | None:
    with database.unit_of_work() as session:
        stmt = select(ReportExport.file_key).where(ReportExport.id == uuid.UUID(export_id))
        key: str | None = session.scalars(stmt).one()
        return key


def test_a_deleted_file_is_410(
    client: TestClient, exports: ExportApi, sample: Sample, database: Database, event_store: Any
) -> None:
    export = _made(exports, database, event_store, _in_range(sample.room_id))
    key = _file_key(database, export["id"])
    assert key is not None
    (database.settings.data_dir / "files" / key).unlink()
    assert client.get(export["url"]).status_code == 410


def _break_the_file_store(database: Database) -> None:
    """A file where the exports folder should be: every write fails, for root too."""
    files = database.settings.data_dir / "files"
    files.mkdir(parents=True, exist_ok=True)
    (files / "exports").write_text("in the way")


def test_a_failing_export_is_retried_then_failed_for_good(
    client: TestClient, exports: ExportApi, sample: Sample, database: Database, event_store: Any
) -> None:
    _break_the_file_store(database)
    started = exports.start(_in_range(sample.room_id))
    worker = _worker(database, event_store, export_max_attempts=3)
    now = utcnow()
    assert worker.export(now) == {"retry": 1}
    assert exports.get(started["id"])["completed_at"] is None  # still in progress
    assert worker.export(now) == {}  # waits for its backoff (30 s)
    assert worker.export(now + timedelta(seconds=31)) == {"retry": 1}
    assert worker.export(now + timedelta(seconds=31 + 59)) == {}  # 60 s after the second
    assert worker.export(now + timedelta(minutes=5)) == {"failed": 1}

    failed = exports.get(started["id"])
    assert failed["is_failed"] is True
    assert failed["completed_at"] is not None
    assert failed["expires_at"] is None and failed["url"] is None
    assert failed["error"] == (
        "The export could not be made: it failed 3 times. Start a new export to try again."
    )
    with database.unit_of_work() as session:
        row = session.get(ReportExport, uuid.UUID(started["id"]))
        assert row is not None
        assert (row.attempts, row.error_type, row.lease_owner) == (3, "NotADirectoryError", None)
    assert worker.export(now + timedelta(hours=2)) == {}  # never again


def test_an_export_whose_worker_died_too_often_fails_instead_of_hanging(
    client: TestClient, exports: ExportApi, sample: Sample, database: Database, event_store: Any
) -> None:
    """Each claim counts an attempt, so a crash does too: an export that kills its worker
    every time (say, by running it out of memory) ends failed, never in progress for ever."""
    started = exports.start(_in_range(sample.room_id))
    with database.unit_of_work() as session:  # three workers claimed it and died
        session.execute(
            update(ReportExport)
            .where(ReportExport.id == uuid.UUID(started["id"]))
            .values(attempts=3, lease_owner="dead:0", lease_until=utcnow() - timedelta(seconds=1))
        )
    assert _worker(database, event_store, export_max_attempts=3).export(utcnow()) == {"failed": 1}
    failed = exports.get(started["id"])
    assert (failed["is_failed"], failed["url"]) == (True, None)
    assert "failed 3 times" in failed["error"]


def test_a_live_lease_is_not_taken_over(
    exports: ExportApi, sample: Sample, database: Database, event_store: Any
) -> None:
    started = exports.start(_in_range(sample.room_id))
    with database.unit_of_work() as session:
        session.execute(
            update(ReportExport)
            .where(ReportExport.id == uuid.UUID(started["id"]))
            .values(attempts=1, lease_owner="alive:0", lease_until=utcnow() + timedelta(hours=1))
        )
    assert _worker(database, event_store).export(utcnow()) == {}
    assert exports.get(started["id"])["completed_at"] is None


def test_the_lease_is_renewed_after_the_last_row(
    exports: ExportApi, sample: Sample, database: Database
) -> None:
    """Finishing the file (an XLSX's zip) and storing it (an upload) come after the rows:
    the renewer gives them a whole lease once the last row is read."""
    started = uuid.UUID(exports.start(_in_range(sample.room_id))["id"])
    with database.unit_of_work() as session:
        session.execute(
            update(ReportExport)
            .where(ReportExport.id == started)
            .values(attempts=1, lease_owner="me:0", lease_until=utcnow() + timedelta(seconds=1))
        )
    renewer = _Renewer(database, started, "me:0", lease=3600)
    assert list(renewer.guard(iter(range(3)))) == [0, 1, 2]
    with database.unit_of_work() as session:
        row = session.get(ReportExport, started)
        assert row is not None and row.lease_until is not None
        assert row.lease_until > utcnow() + timedelta(minutes=59)


def test_exports_of_other_organisations_stay_apart(
    client: TestClient,
    exports: ExportApi,
    sample: Sample,
    database: Database,
    event_store: Any,
) -> None:
    """Chat ids are per organisation: another organisation's chats with the same ids, in a
    room of its own, never show in this one's export."""
    other = ExportApi(client, make_tenant(database, timezone=ZONE))
    theirs = other.room("Tuki")
    copies = [{**chat, "created_at": chat["created_at"]} for chat in sample.chats.values()]
    other.import_chats(theirs, copies)
    export = _made(exports, database, event_store, _in_range(sample.room_id))
    _header, *rows = _csv(client, export)
    assert len(rows) == 14
    assert rows[2][7] == "'" + FORMULA


def test_metrics_count_the_pending_exports_and_the_outcomes(
    app: Any, client: TestClient, exports: ExportApi, database: Database, event_store: Any
) -> None:
    room = exports.room()
    exports.start(logs(room))
    exports.start(stats(room))

    def sample(name: str, **labels: str) -> float:
        response = client.get("/metrics")
        assert response.status_code == 200
        for family in text_string_to_metric_families(response.text):
            for found in family.samples:
                if found.name == name and found.labels == labels:
                    return float(found.value)
        return 0.0

    assert sample("tallybook_exports_pending") == 2
    worker = Worker(database, event_store, worker_settings(database), metrics=app.state.metrics)
    assert worker.run_pass().exports == {"completed": 2}
    assert sample("tallybook_exports_pending") == 0
    assert sample("tallybook_exports_total", outcome="completed") == 2


def test_the_embedded_worker_of_serve_makes_exports(
    exports: ExportApi, sample: Sample, database: Database, event_store: Any
) -> None:
    """`tallybook serve` runs the worker in a thread of the API's process: start an export
    and poll it, as a client would, until it completes."""
    settings = worker_settings(database, worker_poll_interval=0.1)
    with TestClient(create_app(settings, database, event_store, run_worker=True)) as serving:
        api = ExportApi(serving, exports.tenant)
        started = api.start(_in_range(sample.room_id, format="txt"))
        deadline = time.monotonic() + 60
        while (polled := api.get(started["id"]))["completed_at"] is None:
            assert time.monotonic() < deadline, "the embedded worker made no export"
            time.sleep(0.1)
        assert polled["is_failed"] is False
        assert serving.get(polled["url"]).text.startswith(f"Chat {sample.id('A')}  started")


def test_on_s3_the_expired_export_loses_its_object(
    exports: ExportApi,
    sample: Sample,
    database: Database,
    event_store: Any,
    s3_files_url: str,
    s3_endpoint: str,
    s3_bucket: str,
) -> None:
    on_s3 = {"files_url": s3_files_url, "export_ttl": 1.0}
    export = _made(exports, database, event_store, _in_range(sample.room_id), **on_s3)
    key = _file_key(database, export["id"])
    bucket = boto3.client("s3", endpoint_url=s3_endpoint)
    assert bucket.head_object(Bucket=s3_bucket, Key=f"tallybook/{key}")["ContentLength"] > 0
    time.sleep(max(0.0, (datetime.fromisoformat(export["expires_at"]) - utcnow()).total_seconds()))
    time.sleep(0.05)
    assert _worker(database, event_store, **on_s3).export(utcnow()) == {"expired": 1}
    assert bucket.list_objects_v2(Bucket=s3_bucket).get("Contents", []) == []
    assert _file_key(database, export["id"]) is None


def test_expired_files_wait_while_s3_is_unreachable(
    exports: ExportApi, sample: Sample, database: Database, event_store: Any, s3_files_url: str
) -> None:
    on_s3 = {"files_url": s3_files_url, "export_ttl": 1.0}
    export = _made(exports, database, event_store, _in_range(sample.room_id), **on_s3)
    time.sleep(max(0.0, (datetime.fromisoformat(export["expires_at"]) - utcnow()).total_seconds()))
    time.sleep(0.05)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        nowhere = f"http://127.0.0.1:{sock.getsockname()[1]}"
    cut_off = _worker(database, event_store, **on_s3, s3_endpoint_url=nowhere)
    assert cut_off.export(utcnow()) == {}  # nothing deleted, nothing crashed
    assert _file_key(database, export["id"]) is not None
    assert _worker(database, event_store, **on_s3).export(utcnow()) == {"expired": 1}
    assert _file_key(database, export["id"]) is None


def test_an_unreachable_s3_is_a_retried_export_not_a_crash(
    client: TestClient, exports: ExportApi, sample: Sample, database: Database, event_store: Any
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        nowhere = f"http://127.0.0.1:{sock.getsockname()[1]}"
    started = exports.start(_in_range(sample.room_id))
    worker = _worker(database, event_store, files_url=f"s3://exports?endpoint_url={nowhere}")
    assert worker.export(utcnow()) == {"retry": 1}
    assert exports.get(started["id"])["completed_at"] is None  # tried again after its backoff
    with database.unit_of_work() as session:
        row = session.get(ReportExport, uuid.UUID(started["id"]))
        assert row is not None
        assert (row.attempts, row.error_type, row.lease_owner) == (1, "FileStoreUnavailable", None)


def test_a_download_while_s3_is_unreachable_is_503(
    exports: ExportApi, sample: Sample, database: Database, event_store: Any, s3_files_url: str
) -> None:
    export = _made(
        exports, database, event_store, _in_range(sample.room_id), files_url=s3_files_url
    )
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        nowhere = f"http://127.0.0.1:{sock.getsockname()[1]}"
    settings = worker_settings(database, files_url=s3_files_url, s3_endpoint_url=nowhere)
    with TestClient(create_app(settings, database, event_store)) as cut_off:
        answer = cut_off.get(export["url"])
    assert answer.status_code == 503
    assert answer.json()["code"] == "unavailable"
    assert nowhere not in answer.text and "Traceback" not in answer.text
