"""A table written to a file in a chosen format, without HTTP (report exports, scripts)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import IO, assert_never

from tallybook.kit.tabular.csv_writer import write_csv
from tallybook.kit.tabular.formats import FileFormat
from tallybook.kit.tabular.xlsx_writer import write_xlsx


def write_file(
    header: Sequence[str],
    rows: Iterable[Sequence[object]],
    file_format: FileFormat,
    file: IO[bytes],
) -> None:
    """Write the table to a binary file (seekable for XLSX); ``rows`` is read once."""
    match file_format:
        case FileFormat.CSV:
            write_csv(header, rows, file)
        case FileFormat.XLSX:
            write_xlsx(header, rows, file)
        case _:
            assert_never(file_format)
