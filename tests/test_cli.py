from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from typer.testing import CliRunner

from tallybook.cli import app


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
    assert json.loads(out) == {"deliveries": {}, "targets": 0}  # nothing twice


def test_worker_refuses_an_ambiguous_or_misplaced_now(tmp_path: Path) -> None:
    code, _, err = run(tmp_path, "worker", "--once", "--now", "2027-03-28T02:30:00")
    assert code == 1 and "offset" in err
    code, _, err = run(tmp_path, "worker", "--once", "--now", "yesterday")
    assert code == 1 and "ISO 8601" in err
    code, _, err = run(tmp_path, "worker", "--now", "2027-03-28T02:30:00Z")
    assert code == 1 and "--once" in err
