"""Reading back what the tabular writers wrote, with the libraries a user's tools use, and
a row source that records how it was used."""

from __future__ import annotations

import csv
import io
import re
import threading
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import openpyxl


def read_csv(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


def read_xlsx(data: bytes) -> dict[str, list[list[Any]]]:
    """Each sheet's rows of values, by sheet name (in order), text as Excel shows it."""
    book = openpyxl.load_workbook(io.BytesIO(data))
    return {
        sheet.title: [[excel_value(cell.value) for cell in row] for row in sheet.iter_rows()]
        for sheet in book.worksheets
    }


_EXCEL_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")


def excel_value(value: Any) -> Any:
    """Text with Excel's ``_xHHHH_`` escapes of control characters decoded, as Excel
    shows it (openpyxl leaves them as stored; ``_x005F_`` escapes a literal one)."""
    if not isinstance(value, str):
        return value
    return _EXCEL_ESCAPE.sub(lambda match: chr(int(match.group(1), 16)), value)


class RowSource:
    """Rows as a generator (``.rows``) that records how many were taken, on which
    threads, and whether it was closed; optionally failing after ``fail_after`` rows."""

    def __init__(self, rows: Iterable[Sequence[object]], *, fail_after: int | None = None) -> None:
        self.taken = 0
        self.closed = threading.Event()
        self.threads: set[int] = set()
        self.fail_after = fail_after
        self.rows = self._generate(rows)

    def _generate(self, rows: Iterable[Sequence[object]]) -> Iterator[Sequence[object]]:
        try:
            for row in rows:
                self.threads.add(threading.get_ident())
                if self.fail_after is not None and self.taken >= self.fail_after:
                    raise RuntimeError("the row source failed")
                self.taken += 1
                yield row
        finally:
            self.closed.set()


def numbered_rows(count: int, width: int = 3) -> Iterator[list[object]]:
    for number in range(count):
        yield [number, *(f"text {number}-{column}" for column in range(1, width))]
