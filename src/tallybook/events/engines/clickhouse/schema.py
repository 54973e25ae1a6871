"""The ClickHouse event store's tables: DDL and the schema version.

``events`` is a MergeTree partitioned by month (``toYYYYMM(timestamp)``) and ordered by
``(organization_id, vendor, timestamp)``: every query names one organisation, one vendor
and a time range, so the primary key's granules and the partitions of other months are
skipped. Timestamps are ``DateTime64(6, 'UTC')``; the optional dimensions and the client id
are ``Nullable`` (ClickHouse's columns are not by default, and the API tells a missing
value from an empty one). The text columns that hold a handful of values each (see
:data:`LOW_CARDINALITY_COLUMNS`) are ``LowCardinality``: a dictionary per part, so grouping
and filtering on them work on small integer keys. The table keeps the hashes of its last
:data:`DEDUPLICATION_WINDOW` inserts, so an insert with an ``insert_deduplication_token``
already seen is dropped (the store's re-send guarantee, see the store's module).

Client ids are also kept in ``event_ids`` (a ReplacingMergeTree keyed by organisation and
id), which the store reads before a batch to skip the ids stored before.
"""

from __future__ import annotations

from typing import Final

from tallybook.events.query.columns import COLUMN_TYPES, NULLABLE_COLUMNS, ColumnType

SCHEMA_VERSION: Final = "2"
"""1: every text column plain ``String``; 2: :data:`LOW_CARDINALITY_COLUMNS` made
``LowCardinality`` (:func:`upgrade_ddl` converts a version 1 table in place)."""
DDL_TYPES: Final[dict[ColumnType, str]] = {
    ColumnType.UUID: "UUID",
    ColumnType.TIMESTAMP: "DateTime64(6, 'UTC')",
    ColumnType.TEXT: "String",
    ColumnType.INT: "Int32",
    ColumnType.DOUBLE: "Float64",
    ColumnType.TEXT_LIST: "Array(String)",
}
DEDUPLICATION_WINDOW: Final = 10_000
"""How many recent inserts' tokens ``events`` remembers (ClickHouse's default is 0: none)."""


LOW_CARDINALITY_COLUMNS: Final = (
    "source",
    "vendor",
    "category",
    "action",
    "browser_name",
    "device_type",
    "os_name",
    "geo_country",
)
"""Text columns with few distinct values in any installation (a source, vendors, their
categories and actions, browsers, device types, operating systems, countries), grouped
and filtered on most. ClickHouse advises ``LowCardinality`` below about 10,000 distinct
values per part; past that it is still correct, only no faster. The hourly group_by of two
of them took half the server time it took on ``String`` columns, on 1 M events
(docs/performance.md). Free-form text
(labels, the ``dim`` columns, visitor and session ids) stays ``String``."""


def column_type(name: str) -> str:
    kind = DDL_TYPES[COLUMN_TYPES[name]]
    if name in NULLABLE_COLUMNS:
        kind = f"Nullable({kind})"
    return f"LowCardinality({kind})" if name in LOW_CARDINALITY_COLUMNS else kind


def upgrade_ddl(version: str) -> list[str] | None:
    """The statements that bring a table of an older schema version to this one; None for
    a version this code cannot upgrade (a newer one).

    From version 1, one ``ALTER TABLE`` with a ``MODIFY COLUMN`` per converted column: ClickHouse
    changes the table's definition at once and rewrites the stored parts in the background
    (a mutation, ``system.mutations``); reads are right meanwhile, converting parts not yet
    rewritten as they are read. Running it twice (two processes opening the store at
    once) is harmless: the second finds the types already changed."""
    if version == SCHEMA_VERSION:
        return []
    if version == "1":
        changes = ", ".join(
            f"MODIFY COLUMN `{name}` {column_type(name)}" for name in LOW_CARDINALITY_COLUMNS
        )
        return [f"ALTER TABLE events {changes}"]
    return None


def table_ddl() -> list[str]:
    columns = ",\n  ".join(f"`{name}` {column_type(name)}" for name in COLUMN_TYPES)
    return [
        f"CREATE TABLE IF NOT EXISTS events (\n  {columns}\n)"
        " ENGINE = MergeTree"
        " PARTITION BY toYYYYMM(`timestamp`)"
        " ORDER BY (organization_id, vendor, `timestamp`)"
        f" SETTINGS non_replicated_deduplication_window = {DEDUPLICATION_WINDOW},"
        " fsync_after_insert = 1, fsync_part_directory = 1",
        "CREATE TABLE IF NOT EXISTS event_ids (organization_id UUID, id UUID)"
        " ENGINE = ReplacingMergeTree ORDER BY (organization_id, id)"
        " SETTINGS fsync_after_insert = 1, fsync_part_directory = 1",
        "CREATE TABLE IF NOT EXISTS event_store_meta (name String, value String)"
        " ENGINE = ReplacingMergeTree ORDER BY name",
    ]


VERSION_SQL: Final = "SELECT value FROM event_store_meta FINAL WHERE name = 'schema_version'"
