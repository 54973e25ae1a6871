"""The PostgreSQL event store's tables: DDL, monthly partitions and the schema version.

``events`` is range-partitioned by month on ``timestamp`` (UTC, ``timestamp`` without time
zone as in the other engines); a month's partition is made the first time an event of that
month arrives. Every query names one organisation and a time range, so one B-tree index on
``(organization_id, vendor, timestamp)`` serves the fetch API and targets, and partition
pruning keeps a query to the months it asks for. Client ids live in ``event_ids`` with
``(organization_id, id)`` as the primary key: a unique index on the partitioned table would
have to include the partition key, which would let one id be stored once per month.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from tallybook.events.query.columns import COLUMN_TYPES, NULLABLE_COLUMNS, ColumnType

SCHEMA_VERSION: Final = "1"
DDL_TYPES: Final[dict[ColumnType, str]] = {
    ColumnType.UUID: "uuid",
    ColumnType.TIMESTAMP: "timestamp",
    ColumnType.TEXT: "text",
    ColumnType.INT: "integer",
    ColumnType.DOUBLE: "double precision",
    ColumnType.TEXT_LIST: "text[]",
}
PARTITIONS_LOCK: Final = 0x7A11_B00C
"""The advisory lock key under which partitions are made (one maker at a time)."""


def table_ddl() -> list[str]:
    columns = ",\n  ".join(
        f'"{name}" {DDL_TYPES[kind]}{"" if name in NULLABLE_COLUMNS else " NOT NULL"}'
        for name, kind in COLUMN_TYPES.items()
    )
    return [
        f'CREATE TABLE IF NOT EXISTS events (\n  {columns}\n) PARTITION BY RANGE ("timestamp")',
        "CREATE INDEX IF NOT EXISTS events_organization_vendor_time"
        ' ON events (organization_id, vendor, "timestamp")',
        "CREATE TABLE IF NOT EXISTS event_ids"
        " (organization_id uuid NOT NULL, id uuid NOT NULL, PRIMARY KEY (organization_id, id))",
        "CREATE TABLE IF NOT EXISTS event_store_meta (name text PRIMARY KEY, value text NOT NULL)",
        "INSERT INTO event_store_meta VALUES ('schema_version', '1') ON CONFLICT (name) DO NOTHING",
    ]


def month_of(instant: datetime) -> tuple[int, int]:
    return instant.year, instant.month


def partition_name(month: tuple[int, int]) -> str:
    year, number = month
    return f"events_{year:04d}_{number:02d}"


def partition_ddl(month: tuple[int, int]) -> str:
    """The partition of one month; its bounds are dates the code made, not input."""
    year, number = month
    following = (year + 1, 1) if number == 12 else (year, number + 1)
    start = f"{year:04d}-{number:02d}-01"
    end = f"{following[0]:04d}-{following[1]:02d}-01"
    return (
        f"CREATE TABLE IF NOT EXISTS {partition_name(month)} PARTITION OF events"
        f" FOR VALUES FROM ('{start}') TO ('{end}')"
    )


def existing_partitions_sql() -> str:
    return (
        "SELECT child.relname FROM pg_inherits"
        " JOIN pg_class parent ON parent.oid = pg_inherits.inhparent"
        " JOIN pg_class child ON child.oid = pg_inherits.inhrelid"
        " WHERE parent.relname = 'events'"
        " AND parent.relnamespace = to_regnamespace(current_schema())::oid"
    )
