"""Tables as XLSX, written with XlsxWriter in ``constant_memory`` mode: each row goes to a
temporary file as soon as the next one starts, so memory does not grow with the rows.

The zip container can only be written once every row is known, so the result is a file
(a path or a seekable binary file), not a stream: serve it once it is complete.

- A sheet holds ``sheet_rows`` data rows (Excel's limit, 1,048,575, by default) under the
  header; the rows go on in a new sheet with the header repeated.
- Text is always written with ``write_string`` and escaped against formula injection
  (``cells.escape_formula``), so no text becomes a formula, a number or a link. Excel
  keeps at most 32,767 characters of a cell; XlsxWriter cuts longer text there.
- Numbers are number cells, except integers beyond ±2**53, which Excel's doubles cannot
  hold exactly: those are written as text. Non-finite floats are text (``nan``, ``'inf``).
- Datetimes are date cells in UTC (Excel has no time zones) shown as
  ``yyyy-mm-dd hh:mm:ss.000``, cut to the millisecond as the API and CSV show them (Excel
  would round ``.043598`` up to ``.044``); one before 1900, which Excel cannot show, is
  ISO text.
- Booleans are boolean cells; ``None`` leaves the cell empty.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import IO, Any, TypeGuard

from xlsxwriter import Workbook

from tallybook.kit.tabular.cells import (
    check_width,
    close_rows,
    escape_formula,
    iso_utc,
    utc_wall_clock,
)

MAX_SHEET_ROWS = 1_048_575
"""Excel's 1,048,576 rows a sheet, less the header."""
MAX_COLUMNS = 16_384
DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss.000"
_DATETIME_WIDTH = 23  # characters: the format above, without "#####"
_EXACT_INTEGERS = 2**53

_OPTIONS = {
    "constant_memory": True,
    # Every cell is written with its typed method; these only guard a stray write().
    "strings_to_numbers": False,
    "strings_to_formulas": False,
    "strings_to_urls": False,
    # Python's zipfile only switches to ZIP64 for a member past 4 GB (a sheet of long
    # text can be), so ordinary files stay plain zip.
    "use_zip64": True,
}


def write_xlsx(
    header: Sequence[str],
    rows: Iterable[Sequence[object]],
    file: str | os.PathLike[str] | IO[bytes],
    *,
    sheet_rows: int = MAX_SHEET_ROWS,
    tmpdir: str | os.PathLike[str] | None = None,
) -> int:
    """Write the workbook to ``file``; the number of data rows.

    XlsxWriter's own temporary files go to a private directory in ``tmpdir`` (the
    system's by default) that is removed afterwards, whatever happens. If ``rows`` raises,
    nothing is written to ``file``. ``rows`` is read once and closed (if it can be).
    """
    if not 1 <= sheet_rows <= MAX_SHEET_ROWS:
        raise ValueError(f"sheet_rows must be from 1 to {MAX_SHEET_ROWS}.")
    if len(header) > MAX_COLUMNS:
        raise ValueError(f"An XLSX sheet has at most {MAX_COLUMNS} columns.")
    try:
        with tempfile.TemporaryDirectory(prefix="tallybook-xlsx-", dir=tmpdir) as scratch:
            workbook = Workbook(file, {**_OPTIONS, "tmpdir": scratch})
            try:
                count = _SheetWriter(workbook, header, sheet_rows).write_all(rows)
            except BaseException:
                _discard(workbook)
                raise
            workbook.close()
            return count
    finally:
        close_rows(rows)


class _SheetWriter:
    def __init__(self, workbook: Any, header: Sequence[str], sheet_rows: int) -> None:
        self._workbook = workbook
        self._header = header
        self._sheet_rows = sheet_rows
        self._bold = workbook.add_format({"bold": True})
        self._datetime = workbook.add_format({"num_format": DATETIME_FORMAT})
        self._sheet: Any = None
        self._dated_columns: set[int] = set()

    def write_all(self, rows: Iterable[Sequence[object]]) -> int:
        width = len(self._header)
        count = 0
        row_index = self._sheet_rows  # a new sheet before the first row
        for count, row in enumerate(rows, start=1):
            if len(row) != width:
                check_width(row, count, width)
            if row_index == self._sheet_rows:
                self._new_sheet()
                row_index = 0
            row_index += 1
            self._write_row(row_index, row)
        if self._sheet is None:
            self._new_sheet()
        return count

    def _new_sheet(self) -> None:
        sheet = self._workbook.add_worksheet()
        for column, name in enumerate(self._header):
            sheet.write_string(0, column, escape_formula(str(name)), self._bold)
        sheet.freeze_panes(1, 0)
        self._sheet = sheet
        self._dated_columns = set()

    def _write_row(self, row_index: int, row: Sequence[object]) -> None:
        sheet = self._sheet
        write_string = sheet.write_string
        for column, value in enumerate(row):
            if type(value) is str:
                write_string(row_index, column, escape_formula(value))
            elif value is None:
                continue
            elif _is_number(value):
                sheet.write_number(row_index, column, value)
            elif isinstance(value, datetime):
                self._write_datetime(row_index, column, value)
            elif isinstance(value, bool):
                sheet.write_boolean(row_index, column, value)
            else:
                write_string(row_index, column, _other_text(value))

    def _write_datetime(self, row_index: int, column: int, value: datetime) -> None:
        sheet = self._sheet
        wall_clock = utc_wall_clock(value)
        if wall_clock.year < 1900:
            sheet.write_string(row_index, column, iso_utc(value))
            return
        millisecond = wall_clock.replace(microsecond=wall_clock.microsecond // 1000 * 1000)
        sheet.write_datetime(row_index, column, millisecond, self._datetime)
        if column not in self._dated_columns:
            self._dated_columns.add(column)
            sheet.set_column(column, column, _DATETIME_WIDTH)


def _is_number(value: object) -> TypeGuard[int | float]:
    if type(value) is float:
        return math.isfinite(value)
    return type(value) is int and -_EXACT_INTEGERS <= value <= _EXACT_INTEGERS


def _other_text(value: object) -> str:
    if isinstance(value, float):
        return escape_formula(repr(float(value)))
    if isinstance(value, int):
        return str(int(value))
    return escape_formula(str(value))


def _discard(workbook: Any) -> None:
    """Close the sheets' row files of a workbook that will not be finished (their
    directory is removed next); ``Workbook.close`` would write the file."""
    for sheet in workbook.worksheets():
        sheet._opt_close()
