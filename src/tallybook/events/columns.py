"""The columns of the event table, shared by every engine, the bulk loader and the generator."""

from __future__ import annotations

from typing import Final

from tallybook.events.query import DIMENSIONS

REQUIRED_TEXT_COLUMNS: Final = ("source", "vendor", "category", "action", "label")
LIST_COLUMNS: Final = ("properties", "partner_organization_ids")
# Every other dimension of the query language is an optional text column.
OPTIONAL_TEXT_COLUMNS: Final = tuple(
    name
    for name in DIMENSIONS
    if name not in {*REQUIRED_TEXT_COLUMNS, *LIST_COLUMNS, "organization_id", "event_version"}
)

# Logical types; each engine maps them to its own (see duckdb_store.DDL_TYPES).
COLUMN_TYPES: Final[dict[str, str]] = {
    "organization_id": "uuid",
    "timestamp": "timestamp",
    "id": "uuid",
    "source": "text",
    "received_at": "timestamp",
    "event_version": "int",
    "vendor": "text",
    "category": "text",
    "action": "text",
    "label": "text",
    "value": "double",
    "properties": "text[]",
    "partner_organization_ids": "text[]",
    **dict.fromkeys(OPTIONAL_TEXT_COLUMNS, "text"),
}
COLUMNS: Final = tuple(COLUMN_TYPES)
NULLABLE_COLUMNS: Final = frozenset({*OPTIONAL_TEXT_COLUMNS, "id"})  # id: the client's, if any

TEXT_OF_NON_TEXT: Final = frozenset({"organization_id", "event_version"})
"""Dimensions stored with another type; filters and group_by use their text."""
