"""``tallybook db copy`` (issue 13, item 7): an embedded installation's relational store
(SQLite) copied into an empty PostgreSQL database, table by table in one transaction;
a non-empty target or an old source is refused in one sentence."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, func, select, text

from tallybook.app import create_app
from tallybook.dbcopy import normalised_url
from tallybook.kit.db import Database
from tallybook.kit.migrate import downgrade, upgrade
from tallybook.models import Base
from tallybook.settings import Settings
from tests.fixtures.postgres import create_database


def _cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TALLYBOOK_")}
    return subprocess.run(
        [sys.executable, "-m", "tallybook", *args],
        env={**clean, "TALLYBOOK_DATA_DIR": str(tmp_path / "data")},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _counts(url: str) -> dict[str, int]:
    engine = create_engine(normalised_url(url))
    with engine.connect() as connection:
        counts = {
            table.name: connection.execute(select(func.count()).select_from(table)).scalar_one()
            for table in Base.metadata.sorted_tables
        }
    engine.dispose()
    return counts


@pytest.fixture
def target(postgres_server_url: str) -> str:
    return create_database(postgres_server_url, f"tallybook_copy_{uuid.uuid4().hex[:10]}")


@dataclass(frozen=True)
class Installation:
    url: str
    org: str
    user: str
    token: str


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Installation:
    """A SQLite store with the demo organisation and one more made by the admin commands
    (made once: the copies only read it)."""
    tmp_path = tmp_path_factory.mktemp("embedded")
    demo = _cli(tmp_path, "demo")
    assert demo.returncode == 0, demo.stderr
    made = _cli(tmp_path, "admin", "create-org", "--name", "Moved", "--json")
    org = json.loads(made.stdout)["id"]
    user = _cli(
        tmp_path, "admin", "create-user", "--org", org, "--email", "m@example.com",
        "--permission", "settings", "--manager", "--json",
    )  # fmt: skip
    user_id = json.loads(user.stdout)["id"]
    token = _cli(tmp_path, "admin", "create-token", "--user", user_id)
    assert token.returncode == 0, token.stderr
    url = f"sqlite:///{tmp_path / 'data' / 'tallybook.sqlite3'}"
    return Installation(url, org, user_id, token.stdout.strip())


def test_an_embedded_store_moves_to_postgresql_whole(
    tmp_path: Path, target: str, embedded: Installation
) -> None:
    source = embedded.url
    before = _counts(source)
    assert sum(before.values()) > 20 and before["organizations"] == 2

    copied = _cli(tmp_path, "db", "copy", "--from", source, "--to", target, "--json")
    assert copied.returncode == 0, copied.stderr
    assert json.loads(copied.stdout)["rows"] == before
    assert _counts(target) == before

    # The moved installation answers with the old token, and makes new rows.
    settings = Settings(
        data_dir=tmp_path / "pg", database_url=target, secret_key="k", _env_file=None
    )
    database = Database(settings)
    with TestClient(create_app(settings, database)) as client:
        headers = {"Authorization": f"Token {embedded.token}"}
        path = f"/api/v5/orgs/{embedded.org}/users/{embedded.user}/reportexports"
        assert client.get(path, headers=headers).status_code == 200
        assert client.get(path, headers={"Authorization": "Token wrong"}).status_code == 401
    with database.engine.begin() as connection:  # the sequences continue after the copy
        for table in Base.metadata.sorted_tables:
            for column in table.primary_key.columns:
                sequence = connection.execute(
                    text("SELECT pg_get_serial_sequence(:t, :c)"),
                    {"t": table.name, "c": column.name},
                ).scalar()
                if sequence is None or not before[table.name]:
                    continue
                top = connection.execute(select(func.max(column))).scalar_one()
                assert connection.execute(text(f"SELECT nextval('{sequence}')")).scalar() > top
    database.close()


def test_a_target_that_holds_data_is_refused_and_left_alone(
    tmp_path: Path, target: str, embedded: Installation
) -> None:
    source = embedded.url
    assert _cli(tmp_path, "db", "copy", "--from", source, "--to", target).returncode == 0
    counts = _counts(target)
    again = _cli(tmp_path, "db", "copy", "--from", source, "--to", target)
    assert again.returncode == 1
    assert again.stderr.startswith("error: --to: the target database already holds data")
    assert "Traceback" not in again.stderr
    assert _counts(target) == counts


def test_a_source_at_an_older_schema_is_refused(
    tmp_path: Path, target: str, embedded: Installation
) -> None:
    old = tmp_path / "old.sqlite3"
    shutil.copyfile(embedded.url.removeprefix("sqlite:///"), old)
    source = f"sqlite:///{old}"
    engine = create_engine(source)
    downgrade(engine, "-1")
    engine.dispose()
    refused = _cli(tmp_path, "db", "copy", "--from", source, "--to", target)
    assert refused.returncode == 1
    assert "tallybook migrate" in refused.stderr and "Traceback" not in refused.stderr


@pytest.mark.parametrize("url", ["mysql://u@h/x", "not a url"])
def test_an_unusable_url_is_one_sentence(tmp_path: Path, url: str) -> None:
    refused = _cli(tmp_path, "db", "copy", "--from", url, "--to", "postgresql://u:hunter2@h/x")
    assert refused.returncode == 1
    assert refused.stderr.startswith("error: --from must be") and "hunter2" not in refused.stderr


def test_processes_starting_at_once_migrate_one_at_a_time(postgres_server_url: str) -> None:
    """Two processes of a new installation start together: both migrations succeed (the
    second waits on the advisory lock, then has nothing to do)."""
    url = create_database(postgres_server_url, f"tallybook_race_{uuid.uuid4().hex[:10]}")
    engines = [create_engine(normalised_url(url)) for _ in range(2)]
    errors: list[BaseException] = []

    def migrate(engine: Any) -> None:
        try:
            upgrade(engine)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=migrate, args=(engine,)) for engine in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    for engine in engines:
        engine.dispose()
    assert errors == []
    assert _counts(url)["organizations"] == 0  # every table is there


def test_ids_given_out_before_are_not_given_again(
    tmp_path: Path, target: str, embedded: Installation
) -> None:
    """SQLite remembers the highest id each table gave out, deleted rows' included
    (migration 0008); the copy's sequences go on after it, not after the highest left."""
    moved = tmp_path / "moved.sqlite3"
    shutil.copyfile(embedded.url.removeprefix("sqlite:///"), moved)
    with sqlite3.connect(moved) as raw:  # users numbered up to 100 more, since deleted
        raw.execute("UPDATE sqlite_sequence SET seq = seq + 100 WHERE name = 'users'")
        (given,) = raw.execute("SELECT seq FROM sqlite_sequence WHERE name = 'users'").fetchone()
    raw.close()
    assert (
        _cli(tmp_path, "db", "copy", "--from", f"sqlite:///{moved}", "--to", target).returncode == 0
    )
    engine = create_engine(normalised_url(target))
    with engine.begin() as connection:
        sequence = connection.execute(text("SELECT pg_get_serial_sequence('users', 'number')"))
        assert (
            connection.execute(text(f"SELECT nextval('{sequence.scalar()}')")).scalar() == given + 1
        )
    engine.dispose()


def test_a_missing_sqlite_source_is_refused_not_made(tmp_path: Path, target: str) -> None:
    missing = tmp_path / "typo.sqlite3"
    refused = _cli(tmp_path, "db", "copy", "--from", f"sqlite:///{missing}", "--to", target)
    assert refused.returncode == 1
    assert "there is no SQLite database" in refused.stderr and "Traceback" not in refused.stderr
    assert not missing.exists()
