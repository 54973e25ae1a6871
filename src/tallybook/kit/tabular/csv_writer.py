"""Tables as CSV: UTF-8 without a byte-order mark, a header row, RFC 4180 quoting and
``\\r\\n`` line ends, produced as chunks of about ``chunk_size`` bytes while the rows are
read.

Values: text as it is, escaped against formula injection (``cells.escape_formula``);
integers and finite floats as Python writes them (floats round-trip); ``true``/``false``;
nothing for ``None``; datetimes in UTC as ``2021-04-01T10:10:57.242Z``, as the API writes
them; anything else (a non-finite float included) as its text, escaped.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Generator, Iterable, Sequence
from datetime import datetime
from typing import IO

from tallybook.kit.tabular.cells import (
    FORMULA_PREFIXES,
    check_width,
    close_rows,
    escape_formula,
    iso_utc,
)

CHUNK_SIZE = 64 * 1024


def csv_chunks(
    header: Sequence[str],
    rows: Iterable[Sequence[object]],
    *,
    chunk_size: int = CHUNK_SIZE,
) -> Generator[bytes, None, None]:
    """The file in chunks of at least ``chunk_size`` bytes (the last may be shorter).

    Memory holds one chunk and one row, whatever the number of rows. ``rows`` is read
    once, lazily, and closed (if it can be) when the generator ends or is closed.
    """
    yield from _chunks(header, rows, len(header), chunk_size)


def csv_rows(
    rows: Iterable[Sequence[object]], width: int, *, chunk_size: int = CHUNK_SIZE
) -> Generator[bytes, None, int]:
    """:func:`csv_chunks` without the header: the lines of rows of ``width`` cells, in
    chunks; returns the number of rows. A file's header and its rows written by several
    calls, one after the other, are the bytes :func:`csv_chunks` writes for them all."""
    return (yield from _chunks(None, rows, width, chunk_size))


def csv_line(cells: Sequence[object]) -> bytes:
    """One row (a header, say) as its CSV line, ``\\r\\n`` included."""
    buffer = io.StringIO()
    _LineWriter(buffer, len(cells)).write(cells)
    return buffer.getvalue().encode()


def _chunks(
    header: Sequence[str] | None,
    rows: Iterable[Sequence[object]],
    width: int,
    chunk_size: int,
) -> Generator[bytes, None, int]:
    buffer = io.StringIO()
    line_of = _LineWriter(buffer, width)
    number = 0
    try:
        if header is not None:
            line_of.write(header)
        for number, row in enumerate(rows, start=1):
            if len(row) != width:
                check_width(row, number, width)
            line_of.write(row)
            if buffer.tell() >= chunk_size:
                yield buffer.getvalue().encode()
                buffer.seek(0)
                buffer.truncate()
        if header is not None or buffer.tell():
            yield buffer.getvalue().encode()
    finally:
        close_rows(rows)
    return number


def write_csv(header: Sequence[str], rows: Iterable[Sequence[object]], file: IO[bytes]) -> None:
    for chunk in csv_chunks(header, rows):
        file.write(chunk)


class _LineWriter:
    """Writes a row as one CSV line, mostly without the csv module.

    The fast path joins the cells with commas and writes the line when it plainly needs no
    quoting and no escaping; anything else goes through ``csv.writer``, so the output is
    exactly what the csv module writes. Rows of one query have their non-text cells (the
    timestamp, numbers, empty cells) in the same columns, so the columns to convert are
    remembered from the row before: a row with a non-text cell elsewhere makes ``join``
    fail, and that row takes the full path. Twice the speed of converting every cell.
    """

    def __init__(self, buffer: io.StringIO, width: int) -> None:
        self._write = buffer.write
        self._writerow = csv.writer(buffer).writerow
        self._commas = width - 1
        self._to_convert: tuple[int, ...] = ()
        # One empty cell is written as "" by the csv module; keep that rule in one place.
        self._fast = width > 1

    def write(self, row: Sequence[object]) -> None:
        if self._fast:
            cells = list(row)
            for column in self._to_convert:
                cells[column] = _text(cells[column])
            try:
                line = ",".join(cells)  # type: ignore[arg-type]
            except TypeError:
                self._to_convert = tuple(i for i, v in enumerate(row) if type(v) is not str)
            else:
                if not _needs_care(line, self._commas):
                    self._write(line)
                    self._write("\r\n")
                    return
        self._writerow([_text(value) for value in row])


def _needs_care(line: str, commas: int) -> bool:
    """Whether the csv module might quote a cell of the line or a cell needs escaping.

    With exactly one comma per separator no cell holds a comma, so every other comma
    starts a cell: the prefixes of ``FORMULA_PREFIXES`` (``\\r`` is caught on its own) are
    looked for at the line's start and after a comma. Written out, not looped: the
    checks run once per row.
    """
    return (
        line.count(",") != commas
        or '"' in line
        or "\n" in line
        or "\r" in line
        or line.startswith(FORMULA_PREFIXES)
        or ",=" in line
        or ",+" in line
        or ",-" in line
        or ",@" in line
        or ",\t" in line
    )


def _text(value: object) -> str:
    if type(value) is str:
        return escape_formula(value)
    if value is None:
        return ""
    if type(value) is int:
        return str(value)
    if type(value) is float:
        text = repr(value)
        return text if math.isfinite(value) else escape_formula(text)
    if isinstance(value, datetime):
        return iso_utc(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        return _text(float(value))
    return escape_formula(str(value))
