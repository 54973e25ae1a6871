"""Test harness: every API test runs against SQLite and a real PostgreSQL server.

Each pytest-xdist worker gets its own SQLite file and its own PostgreSQL database, with the
migrations applied once. Tests isolate themselves by making their own organisations, which
also exercises the tenancy rules.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tallybook.app import create_app
from tallybook.events.engines.clickhouse.store import embedded_store
from tallybook.events.store import EventStore, open_event_store
from tallybook.kit.db import Database
from tallybook.kit.migrate import upgrade
from tallybook.settings import Settings
from tests.fixtures.postgres import create_database, postgres_server
from tests.fixtures.tenants import Tenant, make_tenant

pytest_plugins = [
    "tests.fixtures.slack_server",
    "tests.fixtures.smtp_server",
    "tests.fixtures.tls",
    "tests.fixtures.s3_server",
]

BACKENDS = ("sqlite", "postgresql")


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """This worker's throwaway PostgreSQL server (no database in the URL)."""
    with postgres_server() as server:
        yield server


@pytest.fixture(scope="session")
def postgres_url(postgres_server_url: str) -> str:
    return create_database(postgres_server_url, f"tallybook_test_{_worker()}")


@pytest.fixture(scope="session")
def postgres_events_url(postgres_server_url: str) -> str:
    """A database of its own for the event store tests of the PostgreSQL engine."""
    return create_database(postgres_server_url, f"tallybook_events_{_worker()}")


@pytest.fixture(scope="session")
def chdb_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The embedded ClickHouse's data directory: chdb opens one directory per process, so
    every ClickHouse event store of a test process (each xdist worker is one) shares it;
    tests isolate themselves with fresh organisation ids."""
    return tmp_path_factory.mktemp("chdb")


@pytest.fixture(scope="session")
def clickhouse_event_store(chdb_path: Path) -> Iterator[EventStore]:
    """The ClickHouse engine (in-process, chdb) for API tests that also run on it; see
    :func:`tests.fixtures.engines.event_engines`."""
    store = embedded_store(chdb_path)
    yield store
    store.close()


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("data")


def _settings(data_dir: Path, backend: str, request: pytest.FixtureRequest) -> Settings:
    url = request.getfixturevalue("postgres_url") if backend == "postgresql" else None
    return Settings(
        data_dir=data_dir / backend,
        database_url=url,
        # PostgreSQL runs everything, events too (the mid-size installation); SQLite pairs
        # with the embedded DuckDB file.
        events_url=url,
        secret_key="test-secret-key-not-for-production",
        outbound_allow_private=True,
        _env_file=None,
    )


_databases: dict[str, Database] = {}


@pytest.fixture(scope="session", params=BACKENDS)
def database(request: pytest.FixtureRequest, data_dir: Path) -> Iterator[Database]:
    """The relational store, migrated; parametrised so each test runs on both backends
    (``sqlite``: with the embedded DuckDB event store; ``postgresql``: events in the same
    PostgreSQL database)."""
    settings = _settings(data_dir, request.param, request)
    db = Database(settings)
    upgrade(db.engine)
    yield db
    db.close()


@pytest.fixture(scope="session")
def event_store(database: Database) -> Iterator[EventStore]:
    store = open_event_store(database.settings)
    yield store
    store.close()


@pytest.fixture(scope="session")
def app(database: Database, event_store: EventStore) -> Any:
    return create_app(database.settings, database, event_store)


@pytest.fixture
def client(app: Any) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def tenant(database: Database) -> Tenant:
    """A fresh organisation whose user has both permissions."""
    return make_tenant(database)


@pytest.fixture
def new_tenant(database: Database) -> Callable[..., Tenant]:
    def make(**kwargs: Any) -> Tenant:
        return make_tenant(database, **kwargs)

    return make
