"""The columns of the event table, shared by every engine, the bulk loader and the generator."""

from __future__ import annotations

from typing import Final

OPTIONAL_TEXT_COLUMNS: Final = (
    "dim1",
    "dim2",
    "dim3",
    "dim4",
    "dim5",
    "visitor_id",
    "session_id",
    "user_id",
    "browser_name",
    "browser_version",
    "device_screen_height",
    "device_screen_width",
    "device_type",
    "geo_city",
    "geo_country",
    "ip_organization",
    "os_name",
    "os_version",
    "organization_name",
)
REQUIRED_TEXT_COLUMNS: Final = ("source", "vendor", "category", "action", "label")
LIST_COLUMNS: Final = ("properties", "partner_organization_ids")

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
NULLABLE_COLUMNS: Final = frozenset(OPTIONAL_TEXT_COLUMNS)

TEXT_OF_NON_TEXT: Final = frozenset({"organization_id", "event_version"})
"""Dimensions stored with another type; filters and group_by use their text."""
