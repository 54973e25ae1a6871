"""The demo's banner prints a curl of an analytics endpoint that works on the demo data."""

from __future__ import annotations

import shlex
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from tallybook.app import create_app
from tallybook.demo import load_demo
from tallybook.events.store import open_event_store
from tallybook.kit.db import Database
from tallybook.kit.migrate import upgrade
from tallybook.settings import Settings


def test_the_banners_analytics_curl_answers_with_the_demo_reports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Settings(data_dir=tmp_path, secret_key="demo-test-secret", _env_file=None)
    database = Database(settings)
    upgrade(database.engine)
    store = open_event_store(settings)
    try:
        load_demo(database, store, "http://testserver")
        banner = capsys.readouterr().out
        (line,) = [line for line in banner.splitlines() if "/api/v4/analytics/" in line]
        words = shlex.split(line)
        assert words[:2] == ["curl", "-H"]
        name, value = words[2].split(": ", 1)
        url = urlsplit(words[3])
        with TestClient(create_app(settings, database, store)) as client:
            response = client.get(f"{url.path}?{url.query}", headers={name: value})
        assert response.status_code == 200, response.text
        rows = response.json()
        assert {row["datetime_range_width"] for row in rows} == {"week"}
        assert sum(row["report_count"] for row in rows) == 320  # every demo report
    finally:
        store.close()
        database.close()
