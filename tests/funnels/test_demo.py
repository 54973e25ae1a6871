"""The demo organisation answers workflow reporting, and its banner's curl works."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from urllib.parse import urlsplit

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from tallybook.app import create_app
from tallybook.cli import app as cli
from tallybook.events.store import open_event_store
from tallybook.kit.db import Database
from tallybook.settings import Settings


def test_the_banners_step_curl_answers_rows(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["demo"], env={"TALLYBOOK_DATA_DIR": str(tmp_path)})
    assert result.exit_code == 0, result.stderr
    (line,) = [line for line in result.stdout.splitlines() if "/step/" in line]
    words = shlex.split(line)
    assert words[0] == "curl" and "POST" in words
    headers = dict(words[i + 1].split(": ", 1) for i, w in enumerate(words) if w == "-H")
    body = json.loads(words[words.index("-d") + 1])
    path = urlsplit(next(w for w in words if w.startswith("http"))).path

    settings = Settings(data_dir=tmp_path, _env_file=None)
    database, store = Database(settings), open_event_store(settings)
    try:
        with TestClient(create_app(settings, database, store)) as client:
            step = client.post(path, json=body, headers=headers)
            assert step.status_code == 200, step.text
            assert len(step.json()["data"]) == 5
            assert {row["View title"] for row in step.json()["data"]} == {"Size"}
            goals = client.post(path, json={**body, "target": "triggered_goal"}, headers=headers)
            assert goals.json()["data"]
            source = path.rsplit("/step/", 1)[0] + "/source_data"
            for target in ("affected_goal", "affected_goal_total"):
                answer = client.post(source, json={**body, "target": target}, headers=headers)
                assert answer.status_code == 200, answer.text
                assert len(answer.json()["data"]) == 5
    finally:
        store.close()
        database.close()


def test_the_banners_chart_curl_answers_a_funnel(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["demo"], env={"TALLYBOOK_DATA_DIR": str(tmp_path)})
    assert result.exit_code == 0, result.stderr
    (line,) = [line for line in result.stdout.splitlines() if "/query/" in line]
    words = shlex.split(line)
    assert words[0] == "curl" and "POST" in words
    headers = dict(words[i + 1].split(": ", 1) for i, w in enumerate(words) if w == "-H")
    body = json.loads(words[words.index("-d") + 1])
    path = urlsplit(next(w for w in words if w.startswith("http"))).path

    settings = Settings(data_dir=tmp_path, _env_file=None)
    database, store = Database(settings), open_event_store(settings)
    try:
        with TestClient(create_app(settings, database, store)) as client:
            response = client.post(path, json=body, headers=headers)
            assert response.status_code == 200, response.text
            steps = response.json()["steps"]
            assert [s["index"] for s in steps] == list(range(len(steps))) and len(steps) >= 3
            assert [a["action"] for a in steps[1]["actions"]] == ["view-budget-low"]
            assert steps[0]["conversion"] == 1.0
            assert 0 < steps[-1]["conversion"] < 1
            assert response.json()["links"]
    finally:
        store.close()
        database.close()
