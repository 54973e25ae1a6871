"""The migrations, up and down, on both backends: the newest schema is what the models
declare, and every revision since 0002 downgrades cleanly and upgrades again."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, Engine, create_engine, event, inspect

from tallybook import models  # noqa: F401  (registers every table)
from tallybook.kit.db import Base, JSONType, UTCDateTime
from tallybook.kit.migrate import alembic_config, downgrade, upgrade
from tests.fixtures.postgres import create_database

NEVER_REUSED_TABLES = ("users", "v4_channels", "v4_reports", "v4_report_images", "v4_alerts")
SQLITE_TRIGGERS = {"v4_report_reads_previous", "v4_alerts_previous", "v4_alerts_previous_deleted"}
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
        if engine.dialect.name == "sqlite":  # ids clients keep are never reused (0008)
            keys = _schema(engine, "table")
            assert all("AUTOINCREMENT" in keys[table] for table in NEVER_REUSED_TABLES)
            # and copying those tables kept their triggers (0006's, which compare_metadata
            # does not see)
            assert set(_schema(engine, "trigger")) == SQLITE_TRIGGERS
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection,
                opts={"compare_type": True, "render_as_batch": engine.dialect.name == "sqlite"},
            )
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()


def _schema(engine: Engine, kind: str) -> dict[str, str]:
    """SQLite's ``CREATE`` statements of one kind, by name."""
    with engine.connect() as connection:
        rows = connection.exec_driver_sql(
            "SELECT name, sql FROM sqlite_master WHERE type = ?", (kind,)
        )
        return {str(name): str(sql) for name, sql in rows}


def _columns(engine: Engine, table: str) -> set[str]:
    return {column["name"] for column in inspect(engine).get_columns(table)}


def test_chat_ids_become_per_organisation_and_go_back_when_none_is_shared(url: str) -> None:
    engine = create_engine(url)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _enforce_foreign_keys)  # as the app's engine does
    try:
        upgrade(engine, "0003")
        first = uuid.uuid4()
        with engine.begin() as connection:
            chat, message, setting = _a_bar_chat_before_0004(connection, first)

        upgrade(engine)
        with engine.connect() as connection:
            assert _rows(connection, "chats", "pk", "id", "organization_id") == [
                (chat, chat, first)
            ]
            assert _rows(connection, "chat_messages", "id", "chat_id") == [(message, chat)]
            assert _rows(connection, "notification_settings", "id", "chat_pk") == [(setting, chat)]

        # Another organisation takes the same chat id: 0003 could not hold both.
        second = uuid.uuid4()
        with engine.begin() as connection:
            room = _organisation_with_room(connection, second)
            _insert(connection, "chats", pk=uuid.uuid4(), id=chat, **_chat(second, room))
        with pytest.raises(RuntimeError, match="used by more than one organisation"):
            downgrade(engine, "0003")
        with engine.begin() as connection:
            assert len(_rows(connection, "chats", "pk")) == 2  # nothing changed
            connection.execute(sa.text("DELETE FROM organizations WHERE name = 'Second'"))

        downgrade(engine, "0003")
        with engine.connect() as connection:
            assert _rows(connection, "chats", "id", "organization_id") == [(chat, first)]
            assert _rows(connection, "chat_messages", "id", "chat_id") == [(message, chat)]
            assert _rows(connection, "notification_settings", "id", "channel_id") == [
                (setting, chat)
            ]
    finally:
        engine.dispose()


def _enforce_foreign_keys(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _a_bar_chat_before_0004(
    connection: Connection, org: uuid.UUID
) -> tuple[uuid.UUID, uuid.UUID, uuid.UUID]:
    """A chat with a message, and a BAR setting naming it, written as 0003 stores them."""
    room = _organisation_with_room(connection, org, name="First")
    chat, message, workflow, target, setting = (uuid.uuid4() for _ in range(5))
    now = datetime.now(UTC)
    _insert(connection, "chats", id=chat, **_chat(org, room))
    _insert(
        connection,
        "chat_messages",
        id=message,
        organization_id=org,
        chat_id=chat,
        type="msg",
        created_at=now,
        sender_type="visitor",
    )
    _insert(
        connection,
        "workflows",
        id=workflow,
        organization_id=org,
        name="w",
        type="reporting",
        created_at=now,
        modified_at=now,
    )
    _insert(
        connection,
        "targets",
        id=target,
        organization_id=org,
        workflow_id=workflow,
        name="t",
        reporting_threshold=1.0,
        reporting_query={"vendor": "v", "aggregations": ["count"]},
        reporting_field="count",
        reporting_period="P1D",
        reporting_datasource="EVENTS",
        reporting_bound="LOWER",
        are_notifications_active=True,
        created_at=now,
        modified_at=now,
    )
    _insert(
        connection,
        "notification_settings",
        id=setting,
        organization_id=org,
        target_id=target,
        kind="bar",
        name="",
        is_notification_active=True,
        channel_id=chat,
        is_bundleable=False,
        consecutive_errors=0,
        created_at=now,
        modified_at=now,
    )
    return chat, message, setting


def _organisation_with_room(
    connection: Connection, org: uuid.UUID, name: str = "Second"
) -> uuid.UUID:
    now, room = datetime.now(UTC), uuid.uuid4()
    _insert(
        connection,
        "organizations",
        id=org,
        name=name,
        timezone="UTC",
        subscription_active=True,
        created_at=now,
    )
    _insert(
        connection,
        "rooms",
        id=room,
        organization_id=org,
        name="Support",
        allowed_domains=[],
        is_shared=False,
        is_deleted=False,
        created_at=now,
        updated_at=now,
    )
    return room


def _chat(org: uuid.UUID, room: uuid.UUID) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "organization_id": org,
        "room_id": room,
        "created_at": now,
        "updated_at": now,
        "is_private": False,
        "chat_type": "visitor",
        "tag_count": 0,
        "message_count": 1,
        "user_message_count": 0,
        "visitor_message_count": 1,
    }


def _insert(connection: Connection, table: str, **values: Any) -> None:
    """A row as the schema of the moment stores it (the models know only the newest)."""
    columns = [sa.column(name, _type(value)) for name, value in values.items()]
    connection.execute(sa.insert(sa.table(table, *columns)).values(values))


def _type(value: object) -> Any:
    if isinstance(value, uuid.UUID):
        return sa.Uuid()
    if isinstance(value, datetime):
        return UTCDateTime()
    if isinstance(value, dict | list):
        return JSONType
    return None  # str, bool, int, float: inferred from the value


def _rows(connection: Connection, table: str, *columns: str) -> list[tuple[Any, ...]]:
    stmt = sa.select(*(sa.column(name, sa.Uuid()) for name in columns)).select_from(sa.table(table))
    return [tuple(row) for row in connection.execute(stmt)]
