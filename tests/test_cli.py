from __future__ import annotations

import csv
import io
import json
import logging
import os
import re
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from tallybook.app import create_app
from tallybook.cli import app
from tallybook.settings import Settings


@pytest.fixture(autouse=True)
def _root_logging_restored() -> Iterator[None]:
    """`worker` and `serve` install a log handler on the stderr of the moment, which is
    CliRunner's and closed once the command returns; later log lines of other tests (the
    SMTP server's, say) would go to that closed stream."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def run(tmp_path: Path, *args: str) -> tuple[int, str, str]:
    runner = CliRunner()
    result = runner.invoke(app, list(args), env={"TALLYBOOK_DATA_DIR": str(tmp_path)})
    return result.exit_code, result.stdout, result.stderr


def test_admin_commands_print_one_json_object(tmp_path: Path) -> None:
    code, out, _ = run(tmp_path, "admin", "create-org", "--name", "Acme", "--json")
    assert code == 0
    org = json.loads(out)["id"]
    code, out, _ = run(
        tmp_path,
        "admin",
        "create-user",
        "--org",
        org,
        "--email",
        "a@example.com",
        "--permission",
        "reporting",
        "--manager",
        "--json",
    )
    user = json.loads(out)
    assert code == 0
    assert isinstance(user["number"], int)
    code, out, _ = run(tmp_path, "admin", "create-token", "--user", user["id"], "--json")
    token = json.loads(out)["token"]
    assert code == 0
    assert len(token) >= 40


def test_admin_errors_go_to_stderr(tmp_path: Path) -> None:
    code, out, err = run(tmp_path, "admin", "create-org", "--name", "X", "--timezone", "Mars/Base")
    assert code != 0
    assert out == ""
    assert "IANA" in err
    code, out, err = run(tmp_path, "admin", "create-user", "--org", "nope", "--email", "a@b.c")
    assert code != 0
    assert "UUID" in err
    code, _, err = run(
        tmp_path,
        "admin",
        "create-user",
        "--org",
        "00000000-0000-0000-0000-000000000000",
        "--email",
        "a@b.c",
    )
    assert code != 0
    assert "No organisation" in err
    code, _, err = run(tmp_path, "admin", "create-org", "--name", "Y", "--json")
    org = json.loads(_)["id"] if code == 0 else None
    code, _, err = run(
        tmp_path,
        "admin",
        "create-user",
        "--org",
        str(org),
        "--email",
        "a@b.c",
        "--permission",
        "admin",
    )
    assert code != 0
    assert "Unknown permission" in err


def test_events_generate_and_load(tmp_path: Path) -> None:
    file = tmp_path / "events.ndjson"
    code, out, _ = run(tmp_path, "events", "generate", str(file), "--events", "500")
    assert code == 0
    code, out, _ = run(tmp_path, "events", "load", str(file), "--json")
    assert code == 0
    assert json.loads(out)["stored"] == 500
    nowhere = str(tmp_path / "no-such-folder" / "x.ndjson")
    code, out, err = run(tmp_path, "events", "generate", nowhere, "--events", "5")
    assert code == 1 and "cannot be written" in err and "Traceback" not in err


def test_a_database_of_a_newer_version_is_one_sentence(tmp_path: Path) -> None:
    assert start(tmp_path, "migrate").returncode == 0
    with sqlite3.connect(tmp_path / "data" / "tallybook.sqlite3") as raw:
        raw.execute("UPDATE alembic_version SET version_num = '9999'")
    raw.close()
    _one_sentence(start(tmp_path, "migrate"), "TALLYBOOK_DATABASE_URL")


def test_worker_once_as_of_an_instant_evaluates_and_cards_the_demo(tmp_path: Path) -> None:
    code, _, _ = run(tmp_path, "demo")
    assert code == 0
    tomorrow = (datetime.now(UTC) + timedelta(days=2)).replace(hour=12).isoformat()
    code, out, err = run(tmp_path, "worker", "--once", "--now", tomorrow)
    assert code == 0, err
    report = json.loads(out)
    assert report["targets"] == 3
    assert report["deliveries"].get("sent", 0) >= 1  # yesterday's snapshots, to the demo chat
    code, out, _ = run(tmp_path, "worker", "--once", "--now", tomorrow)
    assert json.loads(out) == {"deliveries": {}, "exports": {}, "targets": 0}  # nothing twice


def test_the_demo_room_exports_as_its_instructions_say(tmp_path: Path) -> None:
    """Issue 12, item 5: the printed commands start an export of the demo room, which the
    worker makes, and the link downloads a file with the demo's chats."""
    code, out, _ = run(tmp_path, "demo")
    assert code == 0
    token = re.search(r"API token \(shown only now\): (\S+)", out)
    start = re.search(r"-X POST http://[^/]+(/api/v5/\S+/reportexports) -d '(.+)'", out)
    assert token and start, out
    headers = {"Authorization": f"Token {token[1]}"}
    settings = Settings(data_dir=tmp_path, _env_file=None)
    with TestClient(create_app(settings)) as client:
        created = client.post(start[1], content=start[2], headers=headers)
        assert created.status_code == 201, created.text
        code, report, err = run(tmp_path, "worker", "--once")
        assert code == 0, err
        assert json.loads(report)["exports"] == {"completed": 1}
        export = client.get(f"{start[1]}/{created.json()['id']}", headers=headers).json()
        rows = list(csv.reader(io.StringIO(client.get(export["url"]).text)))
    assert rows[0][:2] == ["chat_id", "chat_created_at"]
    assert len({row[0] for row in rows[1:]}) >= 50  # the demo's fortnight of chats


def test_worker_refuses_an_ambiguous_or_misplaced_now(tmp_path: Path) -> None:
    code, _, err = run(tmp_path, "worker", "--once", "--now", "2027-03-28T02:30:00")
    assert code == 1 and "offset" in err
    code, _, err = run(tmp_path, "worker", "--once", "--now", "yesterday")
    assert code == 1 and "ISO 8601" in err
    code, _, err = run(tmp_path, "worker", "--now", "2027-03-28T02:30:00Z")
    assert code == 1 and "--once" in err


def start(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The real command in a process of its own, with only the given settings."""
    settings = {"TALLYBOOK_DATA_DIR": str(tmp_path / "data"), **env}
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TALLYBOOK_")}
    return subprocess.run(
        [sys.executable, "-m", "tallybook", *args],
        env={**clean, **settings},
        cwd=tmp_path,  # no .env of the caller's
        capture_output=True,
        text=True,
        timeout=120,
    )


def _one_sentence(result: subprocess.CompletedProcess[str], setting: str) -> None:
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and setting in lines[0], lines[0]
    assert "Traceback" not in result.stderr and "│" not in result.stderr


UNREACHABLE = "postgresql://tallybook:hunter2@127.0.0.1:1/tallybook"


@pytest.mark.parametrize(
    ("args", "env", "setting"),
    [
        (("serve",), {"TALLYBOOK_EVENTS_URL": "postgresql://db/events"}, "TALLYBOOK_EVENTS_URL"),
        (("worker", "--once"), {"TALLYBOOK_EVENTS_URL": "ftp://x"}, "TALLYBOOK_EVENTS_URL"),
        (("events", "load", "x.ndjson"), {"TALLYBOOK_EVENTS_URL": "x"}, "TALLYBOOK_EVENTS_URL"),
        (("migrate",), {"TALLYBOOK_DATABASE_URL": "mysql://u@h/x"}, "TALLYBOOK_DATABASE_URL"),
        (("serve",), {"TALLYBOOK_DATABASE_URL": "not a url"}, "TALLYBOOK_DATABASE_URL"),
        (
            ("migrate",),
            {"TALLYBOOK_DATABASE_URL": UNREACHABLE, "TALLYBOOK_SECRET_KEY": "k"},
            "TALLYBOOK_DATABASE_URL",
        ),
        (("demo",), {"TALLYBOOK_DATABASE_URL": UNREACHABLE}, "TALLYBOOK_SECRET_KEY"),
        (("serve",), {"TALLYBOOK_PORT": "eighty"}, "TALLYBOOK_PORT"),
        (("worker", "--once"), {"TALLYBOOK_SMTP_SECURITY": "ssl"}, "TALLYBOOK_SMTP_SECURITY"),
        (("admin", "create-org", "--name", "A"), {"TALLYBOOK_LEASE_SECONDS": "0"}, "LEASE"),
        (("worker", "--once"), {"TALLYBOOK_FILES_URL": "s3://"}, "TALLYBOOK_FILES_URL"),
        (("worker", "--once"), {"TALLYBOOK_FILES_URL": "gs://bucket/x"}, "TALLYBOOK_FILES_URL"),
        (("serve",), {"TALLYBOOK_FILES_URL": "file://relative"}, "TALLYBOOK_FILES_URL"),
        (("worker", "--once"), {"TALLYBOOK_EXPORT_TTL": "0"}, "TALLYBOOK_EXPORT_TTL"),
        (("serve",), {"TALLYBOOK_LOG_LEVEL": "verbose"}, "TALLYBOOK_LOG_LEVEL"),
        (("serve",), {"TALLYBOOK_PUBLIC_URL": "reports.example.com"}, "TALLYBOOK_PUBLIC_URL"),
        (("serve",), {"TALLYBOOK_MAX_REQUEST_BYTES": "-5"}, "TALLYBOOK_MAX_REQUEST_BYTES"),
        (("serve",), {"TALLYBOOK_IMPORT_MAX_BYTES": "0"}, "TALLYBOOK_IMPORT_MAX_BYTES"),
        (("migrate",), {"TALLYBOOK_SECRET_KEY": " "}, "TALLYBOOK_SECRET_KEY"),  # signs nothing
    ],
)
def test_configuration_errors_at_start_are_one_sentence_and_status_2(
    tmp_path: Path, args: tuple[str, ...], env: dict[str, str], setting: str
) -> None:
    result = start(tmp_path, *args, **env)
    _one_sentence(result, setting)
    assert "hunter2" not in result.stderr


def test_an_empty_key_file_is_one_sentence(tmp_path: Path) -> None:
    """A key file left empty (a disk that filled up) would sign links anyone can make."""
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "secret_key").write_text("\n")
    result = start(tmp_path, "migrate", TALLYBOOK_DATA_DIR=str(tmp_path / "data"))
    _one_sentence(result, "TALLYBOOK_DATA_DIR")


def test_an_unusable_data_directory_is_one_sentence(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    for args in (("serve",), ("migrate",), ("demo",), ("worker", "--once")):
        result = start(tmp_path, *args, TALLYBOOK_DATA_DIR=str(tmp_path / "a-file" / "data"))
        _one_sentence(result, "TALLYBOOK_DATA_DIR")


def test_a_port_in_use_is_one_sentence(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = start(tmp_path, "serve", "--port", str(port), "--no-worker")
    _one_sentence(result, "PORT")
