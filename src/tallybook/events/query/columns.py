"""The columns of the event table, shared by every engine, the bulk loader and the generator."""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from tallybook.events.query.language import DIMENSIONS


class ColumnType(StrEnum):
    """Logical column types; each engine maps them to its own (the DuckDB engine's
    ``DDL_TYPES``) and the renderer casts bound parameters to them."""

    UUID = "uuid"
    TIMESTAMP = "timestamp"
    TEXT = "text"
    INT = "int"
    DOUBLE = "double"
    TEXT_LIST = "text[]"


REQUIRED_TEXT_COLUMNS: Final = ("source", "vendor", "category", "action", "label")
LIST_COLUMNS: Final = ("properties", "partner_organization_ids")
# Every other dimension of the query language is an optional text column.
OPTIONAL_TEXT_COLUMNS: Final = tuple(
    name
    for name in DIMENSIONS
    if name not in {*REQUIRED_TEXT_COLUMNS, *LIST_COLUMNS, "organization_id", "event_version"}
)

COLUMN_TYPES: Final[dict[str, ColumnType]] = {
    "organization_id": ColumnType.UUID,
    "timestamp": ColumnType.TIMESTAMP,
    "id": ColumnType.UUID,
    "source": ColumnType.TEXT,
    "received_at": ColumnType.TIMESTAMP,
    "event_version": ColumnType.INT,
    "vendor": ColumnType.TEXT,
    "category": ColumnType.TEXT,
    "action": ColumnType.TEXT,
    "label": ColumnType.TEXT,
    "value": ColumnType.DOUBLE,
    "properties": ColumnType.TEXT_LIST,
    "partner_organization_ids": ColumnType.TEXT_LIST,
    **dict.fromkeys(OPTIONAL_TEXT_COLUMNS, ColumnType.TEXT),
}
COLUMNS: Final = tuple(COLUMN_TYPES)
NULLABLE_COLUMNS: Final = frozenset({*OPTIONAL_TEXT_COLUMNS, "id"})  # id: the client's, if any

TEXT_OF_NON_TEXT: Final = frozenset({"organization_id", "event_version"})
"""Dimensions stored with another type; filters and group_by use their text."""
