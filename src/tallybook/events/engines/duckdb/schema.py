"""The DuckDB event store's tables: DDL, column types and schema versions.

The on-disk layout is a contract with files users already have: a change needs a new
schema version and an upgrade from the previous one.
"""

from __future__ import annotations

from typing import Final

from tallybook.events.query.columns import COLUMN_TYPES, NULLABLE_COLUMNS, ColumnType

SCHEMA_VERSION: Final = "2"  # also in table_ddl() and UPGRADE_TO_2; 2: events.id nullable
DDL_TYPES: Final[dict[ColumnType, str]] = {
    ColumnType.UUID: "UUID",
    ColumnType.TIMESTAMP: "TIMESTAMP",
    ColumnType.TEXT: "VARCHAR",
    ColumnType.INT: "INTEGER",
    ColumnType.DOUBLE: "DOUBLE",
    ColumnType.TEXT_LIST: "VARCHAR[]",
}
# Extensions the store uses (json, parquet, icu) are linked into the wheel; never download.
DUCKDB_CONFIG: Final[dict[str, str | bool | int | float | list[str]]] = {
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
}
KEY_INDEX: Final = "event_ids_key"


def utc_timestamp(expression: str) -> str:
    """SQL for a TIMESTAMPTZ as a TIMESTAMP in UTC, whatever the session's time zone; a few
    per cent faster for a bulk load than a cast, which goes through ICU."""
    return f"make_timestamp(epoch_us({expression}))"


def table_ddl() -> list[str]:
    columns = ",\n  ".join(
        f'"{name}" {DDL_TYPES[kind]}{"" if name in NULLABLE_COLUMNS else " NOT NULL"}'
        for name, kind in COLUMN_TYPES.items()
    )
    return [
        f"CREATE TABLE IF NOT EXISTS events (\n  {columns}\n)",
        "CREATE TABLE IF NOT EXISTS event_store_meta"
        " (name VARCHAR PRIMARY KEY, value VARCHAR NOT NULL)",
        "INSERT INTO event_store_meta VALUES ('schema_version', '2') ON CONFLICT DO NOTHING",
    ]


UPGRADE_TO_2: Final = (
    "ALTER TABLE events ALTER COLUMN id DROP NOT NULL",
    "UPDATE event_store_meta SET value = '2' WHERE name = 'schema_version'",
)
"""Version 1 to 2: ``events.id`` becomes nullable, a change to the catalogue only; events
stored before keep the random ids version 1 gave them."""


def event_ids_ddl(*, key: bool = True) -> list[str]:
    """The client ids: unique per organisation, by a unique index (stores made before it
    have a primary key instead, which works the same)."""
    table = "CREATE TABLE event_ids (organization_id UUID NOT NULL, id UUID NOT NULL)"
    return [table, key_index_ddl()] if key else [table]


def key_index_ddl() -> str:
    return f"CREATE UNIQUE INDEX {KEY_INDEX} ON event_ids (organization_id, id)"
