"""The file formats a table can be written as, with the media type each is served with."""

from __future__ import annotations

from enum import StrEnum


class FileFormat(StrEnum):
    CSV = "csv"
    XLSX = "xlsx"


MEDIA_TYPES: dict[FileFormat, str] = {
    FileFormat.CSV: "text/csv; charset=utf-8",
    FileFormat.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def file_name(stem: str, file_format: FileFormat) -> str:
    """The stem (already made safe) with the format's extension."""
    return f"{stem}.{file_format.value}"
