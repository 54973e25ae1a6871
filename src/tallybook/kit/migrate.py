"""Alembic, driven from code so that ``tallybook migrate`` works from an installed package."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


class MigrationError(RuntimeError):
    """The database cannot be migrated as it is; the message says why."""


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    _run(engine, command.upgrade, revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Back to an older revision (an operator's tool; the tests go down and up again)."""
    _run(engine, command.downgrade, revision)


def _run(engine: Engine, step: Callable[[Config, str], None], revision: str) -> None:
    config = alembic_config(engine)
    with (
        engine.connect() as connection,
        _foreign_keys_deferred_to_the_end(connection),
        connection.begin(),
    ):
        _begin_ddl_too(connection)
        _one_migrator_at_a_time(connection)
        config.attributes["connection"] = connection
        step(config, revision)
        _check_foreign_keys(connection)


MIGRATION_LOCK = 61013
"""PostgreSQL advisory lock key of a migration run."""


def _one_migrator_at_a_time(connection: Connection) -> None:
    """Several processes starting at once (``serve --workers N``, containers) each migrate:
    on PostgreSQL the second waits for the first's commit, then finds the schema current.
    SQLite's write lock already serialises them."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")


def _begin_ddl_too(connection: Connection) -> None:
    """SQLite can undo a schema change, but Python's sqlite3 opens its transaction only
    before the first INSERT/UPDATE/DELETE: a CREATE or DROP before it would be committed
    on its own, and a later revision that fails would leave the earlier ones half undone.
    An explicit BEGIN puts every statement of the run into the one transaction."""
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("BEGIN")


@contextmanager
def _foreign_keys_deferred_to_the_end(connection: Connection) -> Iterator[None]:
    """SQLite changes a table by copying it and dropping the old one; with foreign keys
    enforced, that drop would delete (ON DELETE CASCADE) or clear (SET NULL) the rows
    referring to it. As SQLite's own procedure for schema changes says, enforcement is
    off while the migrations run (it cannot change inside a transaction) and the whole
    database is checked before the commit; afterwards the connection is as it was."""
    if connection.dialect.name != "sqlite":
        yield
        return
    was_on = bool(connection.exec_driver_sql("PRAGMA foreign_keys").scalar())
    connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
    connection.commit()
    try:
        yield
    finally:
        if connection.in_transaction():
            connection.rollback()
        connection.exec_driver_sql(f"PRAGMA foreign_keys={'ON' if was_on else 'OFF'}")
        connection.commit()


def _check_foreign_keys(connection: Connection) -> None:
    if connection.dialect.name != "sqlite":
        return  # PostgreSQL checks every constraint as the migrations change the tables
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        tables = sorted({str(row[0]) for row in broken})
        raise MigrationError(
            f"The migration would leave {len(broken)} rows referring to rows that do not "
            f"exist (tables: {', '.join(tables)}); it stopped before committing."
        )
