"""Worker tests each run on a relational database of their own, so a worker pass, which
takes all due work in its database, sees only the test's rows.

The database is made from a migrated template once per test process: on SQLite a copy of
a template file, on PostgreSQL ``CREATE DATABASE … TEMPLATE``. The event store is shared
by a process's worker tests: events belong to an organisation, and each test makes its own.
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tallybook.app import create_app
from tallybook.events.store import EventStore, open_event_store
from tallybook.kit.db import Database
from tallybook.kit.migrate import upgrade
from tallybook.settings import Settings
from tests.fixtures.postgres import create_database

BACKENDS = ("sqlite", "postgresql")  # as in tests/conftest.py
SQLITE_FILE = "tallybook.sqlite3"


def _settings(data_dir: Path, database_url: str | None = None) -> Settings:
    return Settings(
        data_dir=data_dir,
        database_url=database_url,
        secret_key="test-secret-key-not-for-production",
        outbound_allow_private=True,
        _env_file=None,
    )


def _migrated(settings: Settings) -> None:
    template = Database(settings)
    try:
        upgrade(template.engine)
    finally:
        template.close()


def _psql(server_url: str, statement: str) -> None:
    import psycopg

    plain = server_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain + "/postgres", autocommit=True) as conn:
        conn.execute(statement)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("worker-template")
    _migrated(_settings(folder))
    return folder / SQLITE_FILE


@pytest.fixture(scope="session")
def postgres_template(postgres_url: str) -> tuple[str, str]:
    """The server's URL and the name of a migrated database to copy (one per process:
    PostgreSQL copies a template only while nobody else is connected to it)."""
    server = postgres_url.rsplit("/", 1)[0]
    name = f"tallybook_worker_template_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
    _migrated(_settings(Path("unused"), create_database(server, name)))
    return server, name


def _copy_sqlite(template: Path, folder: Path) -> None:
    source, copy = sqlite3.connect(template), sqlite3.connect(folder / SQLITE_FILE)
    try:
        source.backup(copy)
    finally:
        source.close()
        copy.close()


@pytest.fixture(params=BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """This test's own database, migrated; each test runs on both backends."""
    if request.param == "sqlite":
        _copy_sqlite(request.getfixturevalue("sqlite_template"), tmp_path)
        db = Database(_settings(tmp_path))
        yield db
        db.close()
        return
    server, template = request.getfixturevalue("postgres_template")
    name = f"tallybook_worker_{uuid.uuid4().hex[:12]}"
    _psql(server, f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    db = Database(_settings(tmp_path, f"{server}/{name}"))
    try:
        yield db
    finally:
        db.close()
        _psql(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def event_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EventStore]:
    store = open_event_store(_settings(tmp_path_factory.mktemp("worker-events")))
    yield store
    store.close()


@pytest.fixture
def app(database: Database, event_store: EventStore) -> Any:
    return create_app(database.settings, database, event_store)
