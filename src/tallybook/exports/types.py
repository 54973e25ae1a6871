"""What an export is, as stored and shown.

The API's schemas spell the same values as ``Literal`` types (so the OpenAPI document keeps
them inline); a test checks that each matches its enum here.
"""

from __future__ import annotations

from enum import StrEnum

from tallybook.kit.tabular import MEDIA_TYPES as TABLE_MEDIA_TYPES
from tallybook.kit.tabular import FileFormat


class ExportType(StrEnum):
    LOGS = "logs"  # the room's chats with their messages
    STATS = "stats"  # the room's daily chat statistics


class ExportFormat(StrEnum):
    CSV = "csv"
    XLSX = "xlsx"
    TXT = "txt"  # a readable transcript; logs only


FORMATS: dict[ExportType, frozenset[ExportFormat]] = {
    ExportType.LOGS: frozenset({ExportFormat.CSV, ExportFormat.XLSX, ExportFormat.TXT}),
    ExportType.STATS: frozenset({ExportFormat.CSV, ExportFormat.XLSX}),
}
"""The formats each type may be written in (the seed's rule)."""

TABLE_FORMATS: dict[ExportFormat, FileFormat] = {
    ExportFormat.CSV: FileFormat.CSV,
    ExportFormat.XLSX: FileFormat.XLSX,
}
"""The formats written as tables by ``kit.tabular``; a TXT transcript is not a table."""

MEDIA_TYPES: dict[ExportFormat, str] = {
    **{export: TABLE_MEDIA_TYPES[table] for export, table in TABLE_FORMATS.items()},
    ExportFormat.TXT: "text/plain; charset=utf-8",
}
