"""The migrations, up and down, on both backends: the newest schema is what the models
declare, and every revision since 0002 downgrades cleanly and upgrades again."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, create_engine, inspect

from tallybook import models  # noqa: F401  (registers every table)
from tallybook.kit.db import Base
from tallybook.kit.migrate import alembic_config, upgrade
from tests.fixtures.postgres import create_database

FAILURE_COLUMNS = {"failure_count", "last_error", "last_error_type", "last_error_at"}


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'migrations.sqlite3'}"
    server = request.getfixturevalue("postgres_url").rsplit("/", 1)[0]
    return create_database(server, f"tallybook_migrations_{uuid.uuid4().hex[:12]}")


def test_upgrade_downgrade_upgrade_matches_the_models(url: str) -> None:
    engine = create_engine(url)
    try:
        upgrade(engine)
        assert _columns(engine, "target_schedules") >= FAILURE_COLUMNS
        config = alembic_config(engine)
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "0002")
        assert not FAILURE_COLUMNS & _columns(engine, "target_schedules")
        upgrade(engine)
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection,
                opts={"compare_type": True, "render_as_batch": engine.dialect.name == "sqlite"},
            )
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()


def _columns(engine: Engine, table: str) -> set[str]:
    return {column["name"] for column in inspect(engine).get_columns(table)}
