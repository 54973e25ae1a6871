"""``tallybook db copy``: the relational store copied into another database, to move an
embedded installation (SQLite) to PostgreSQL.

The target is brought to the newest schema first and must then be empty; the source must
already be at that schema (``tallybook migrate`` against it). Every table of the schema is
copied in dependency order (a row's parents first), streamed in batches, in one
transaction on the target: a copy that fails leaves the target as empty as it was. On
PostgreSQL the sequences of integer keys then continue after the copied rows. The source
is only read; stop the server while copying, or rows written meanwhile are left behind.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, Integer, Table, create_engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from tallybook.kit.migrate import alembic_config, upgrade
from tallybook.models import Base

BATCH_ROWS: Final = 1000


class CopyError(RuntimeError):
    """The copy cannot be made as asked; the message says why and what to do."""


def copy_database(source_url: str, target_url: str) -> dict[str, int]:
    """Copy every table of ``source_url`` into the empty ``target_url``; rows by table."""
    source, target = _engine(source_url, "--from"), _engine(target_url, "--to")
    try:
        _check_source(source)
        try:
            upgrade(target)
        except DBAPIError:
            raise CopyError("--to: the target database cannot be reached or migrated.") from None
        with target.begin() as into:
            _check_empty(into)
            copied = {table.name: _copy_table(source, into, table) for table in _tables()}
            _continue_sequences(into, _given_out(source))
        return copied
    finally:
        source.dispose()
        target.dispose()


def normalised_url(url: str) -> str:
    """``postgresql://…`` with the driver this installation has (psycopg 3)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _engine(url: str, option: str) -> Engine:
    try:
        parsed = make_url(normalised_url(url))
        if parsed.get_backend_name() not in ("sqlite", "postgresql"):
            raise ArgumentError("not a supported backend")
    except (ArgumentError, ImportError, ValueError):
        raise CopyError(
            f"{option} must be a SQLite URL (sqlite:////absolute/path/tallybook.sqlite3) or a "
            "PostgreSQL URL (postgresql://user:password@host:5432/database)."
        ) from None
    path = parsed.database
    sqlite_source = option == "--from" and parsed.get_backend_name() == "sqlite"
    if sqlite_source and path and not Path(path).is_file():
        # SQLite would make an empty one there: the source is only read
        raise CopyError(f"--from: there is no SQLite database at {path}.")
    return create_engine(parsed)


def _check_source(source: Engine) -> None:
    head = ScriptDirectory.from_config(alembic_config(source)).get_current_head()
    try:
        with source.connect() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
    except DBAPIError:
        raise CopyError("--from: the source database cannot be reached.") from None
    if current != head:
        raise CopyError(
            "--from: the source database is not at this version's schema; run "
            "`tallybook migrate` with TALLYBOOK_DATABASE_URL set to it first."
        )


def _tables() -> list[Table]:
    return list(Base.metadata.sorted_tables)


def _check_empty(into: Connection) -> None:
    for table in _tables():
        if into.execute(select(text("1")).select_from(table).limit(1)).first() is not None:
            raise CopyError(
                f"--to: the target database already holds data (table {table.name}); copy "
                "into a new, empty database."
            )


def _copy_table(source: Engine, into: Connection, table: Table) -> int:
    count = 0
    with source.connect() as connection:
        rows = connection.execution_options(stream_results=True, yield_per=BATCH_ROWS).execute(
            select(table).order_by(*table.primary_key.columns)
        )
        for batch in rows.mappings().partitions(BATCH_ROWS):
            into.execute(table.insert(), [dict(row) for row in batch])
            count += len(batch)
    return count


def _given_out(source: Engine) -> dict[str, int]:
    """The highest integer key each table of a SQLite source ever gave out (its
    ``sqlite_sequence``: ids of deleted rows included, which are never given again)."""
    if source.dialect.name != "sqlite":
        return {}
    with source.connect() as connection:
        rows = connection.exec_driver_sql("SELECT name, seq FROM sqlite_sequence").all()
    return {str(name): int(seq) for name, seq in rows}


def _continue_sequences(into: Connection, given_out: dict[str, int]) -> None:
    """Rows copied with their integer keys leave PostgreSQL's sequences at 1: each goes on
    after the highest key of its table, or the highest the source ever gave out."""
    if into.dialect.name != "postgresql":
        return
    for table in _tables():
        for column in table.primary_key.columns:
            if not isinstance(column.type, Integer) or column.autoincrement is False:
                continue
            sequence = into.execute(
                text("SELECT pg_get_serial_sequence(:table, :column)"),
                {"table": table.name, "column": column.name},
            ).scalar()
            if sequence is None:
                continue
            into.execute(
                text(
                    f'SELECT setval(:sequence, GREATEST(MAX("{column.name}"), :given, 1), '  # noqa: S608
                    f'GREATEST(MAX("{column.name}"), :given) IS NOT NULL) FROM "{table.name}"'
                ),
                {"sequence": sequence, "given": given_out.get(table.name)},
            )
