"""The XLSX writer, read back with openpyxl: typed cells, escaping, sheets, cleanup."""

from __future__ import annotations

import io
import math
import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from tallybook.kit.tabular import MAX_SHEET_ROWS, write_xlsx
from tallybook.kit.tabular.cells import RowWidthError
from tallybook.kit.tabular.xlsx_writer import DATETIME_FORMAT, MAX_COLUMNS
from tests.kit.tabular.helpers import RowSource, excel_value, numbered_rows, read_xlsx


def xlsx(header: list[str], rows: list[list[object]], **options: int) -> bytes:
    file = io.BytesIO()
    write_xlsx(header, rows, file, **options)  # type: ignore[arg-type]
    return file.getvalue()


def only_sheet(data: bytes) -> list[list[object]]:
    sheets = read_xlsx(data)
    assert len(sheets) == 1
    return next(iter(sheets.values()))


def test_every_value_type_is_a_typed_cell() -> None:
    instant = datetime(2021, 4, 1, 10, 10, 57, 242_000, tzinfo=UTC)
    rows: list[list[object]] = [["text", 42, -2.5, True, None, instant]]
    data = xlsx(["s", "i", "f", "b", "n", "t"], rows)
    book = openpyxl.load_workbook(io.BytesIO(data))
    sheet = book.active
    assert sheet is not None
    cells = next(sheet.iter_rows(min_row=2))
    assert [cell.value for cell in cells] == [
        "text",
        42,
        -2.5,
        True,
        None,
        datetime(2021, 4, 1, 10, 10, 57, 242_000),
    ]
    assert [cell.data_type for cell in cells] == ["s", "n", "n", "b", "n", "d"]
    assert cells[5].number_format == DATETIME_FORMAT
    # Wide enough that Excel shows the date rather than "#####".
    assert (sheet.column_dimensions["F"].width or 0) >= len("2021-04-01 10:10:57.242")


def test_datetimes_are_utc_wall_clock() -> None:
    helsinki = datetime(2021, 6, 1, 12, 0, tzinfo=timezone(timedelta(hours=3)))
    naive = datetime(2021, 6, 1, 9, 0)
    rows = only_sheet(xlsx(["t"], [[helsinki], [naive]]))
    assert [row[0] for row in rows[1:]] == [datetime(2021, 6, 1, 9, 0)] * 2


def test_datetimes_are_cut_to_the_millisecond_as_csv_shows_them() -> None:
    """Excel rounds what it shows: .043598 would read .044 where the CSV says .043."""
    late = datetime(2021, 6, 1, 9, 0, 0, 43_598, tzinfo=UTC)
    (_, (cell,)) = only_sheet(xlsx(["t"], [[late]]))
    assert cell == datetime(2021, 6, 1, 9, 0, 0, 43_000)


def test_values_excel_cannot_hold_are_text() -> None:
    big = 2**53 + 1
    rows: list[list[object]] = [
        [big, -big, 2**53, math.nan, math.inf, -math.inf, datetime(1899, 12, 31, tzinfo=UTC)],
    ]
    values = only_sheet(xlsx(["a", "b", "c", "d", "e", "f", "g"], rows))[1]
    assert values == [
        str(big),
        str(-big),
        2**53,
        "nan",
        "inf",
        "'-inf",
        "1899-12-31T00:00:00.000Z",
    ]


def test_other_values_are_text() -> None:
    ident = uuid.UUID("12345678-1234-5678-1234-567812345678")
    rows: list[list[object]] = [[ident, Decimal("1.50"), date(2021, 4, 1)]]
    assert only_sheet(xlsx(["a", "b", "c"], rows))[1] == [str(ident), "1.50", "2021-04-01"]


def test_text_stays_text() -> None:
    texts = ["123", "1e5", "TRUE", "https://example.com/x", "2021-04-01", "0012"]
    data = xlsx(["t"], [[text] for text in texts])
    book = openpyxl.load_workbook(io.BytesIO(data))
    sheet = book.active
    assert sheet is not None
    cells = [row[0] for row in sheet.iter_rows(min_row=2)]
    assert [cell.value for cell in cells] == texts
    assert {cell.data_type for cell in cells} == {"s"}
    assert all(cell.hyperlink is None for cell in cells)


def test_unicode() -> None:
    texts = ["Työpäivä", "数据导出", "😀 emoji", "עברית", "e\u0301", "line\nbreak", "bell\x07"]
    assert [row[0] for row in only_sheet(xlsx(["näkymä"], [[t] for t in texts]))] == [
        "näkymä",
        *texts,
    ]


@pytest.mark.parametrize("prefix", ["=", "+", "-", "@", "\t", "\r"])
def test_text_that_starts_like_a_formula_is_escaped_and_never_a_formula(prefix: str) -> None:
    text = f'{prefix}HYPERLINK("https://evil.example","x")'
    data = xlsx([f"{prefix}head"], [[text], [f"in the middle {prefix}1"]])
    book = openpyxl.load_workbook(io.BytesIO(data))
    sheet = book.active
    assert sheet is not None
    cells = [row[0] for row in sheet.iter_rows()]
    assert [excel_value(cell.value) for cell in cells] == [
        f"'{prefix}head",
        f"'{text}",
        f"in the middle {prefix}1",
    ]
    assert {cell.data_type for cell in cells} == {"s"}


def test_numbers_are_not_escaped() -> None:
    assert only_sheet(xlsx(["n", "t"], [[-5, "-5"]]))[1] == [-5, "'-5"]


def test_text_longer_than_a_cell_holds_is_cut_at_excels_limit() -> None:
    assert only_sheet(xlsx(["t"], [["x" * 40_000]]))[1] == ["x" * 32_767]


def test_rows_go_on_in_new_sheets_with_the_header_repeated() -> None:
    rows = list(numbered_rows(7))
    sheets = read_xlsx(xlsx(["n", "a", "b"], rows, sheet_rows=3))
    assert list(sheets) == ["Sheet1", "Sheet2", "Sheet3"]
    assert all(sheet[0] == ["n", "a", "b"] for sheet in sheets.values())
    assert [len(sheet) - 1 for sheet in sheets.values()] == [3, 3, 1]
    assert [row for sheet in sheets.values() for row in sheet[1:]] == rows


def test_a_full_last_sheet_gets_no_empty_sheet_after_it() -> None:
    sheets = read_xlsx(xlsx(["n", "a", "b"], list(numbered_rows(6)), sheet_rows=3))
    assert [len(sheet) - 1 for sheet in sheets.values()] == [3, 3]


def test_header_only_is_one_sheet_with_a_frozen_bold_header() -> None:
    book = openpyxl.load_workbook(io.BytesIO(xlsx(["a", "b"], [])))
    assert book.sheetnames == ["Sheet1"]
    sheet = book.active
    assert sheet is not None
    assert [[cell.value for cell in row] for row in sheet.iter_rows()] == [["a", "b"]]
    assert sheet.freeze_panes == "A2"
    assert sheet["A1"].font.b


def test_the_sheet_limit_is_excels() -> None:
    assert MAX_SHEET_ROWS == 1_048_576 - 1
    with pytest.raises(ValueError, match="sheet_rows"):
        xlsx(["a"], [], sheet_rows=MAX_SHEET_ROWS + 1)
    with pytest.raises(ValueError, match="sheet_rows"):
        xlsx(["a"], [], sheet_rows=0)


def test_too_many_columns() -> None:
    with pytest.raises(ValueError, match="16384 columns"):
        xlsx([f"c{n}" for n in range(MAX_COLUMNS + 1)], [])


def test_writes_to_a_path_and_leaves_no_temporary_files(tmp_path: Path) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    target = tmp_path / "out.xlsx"
    source = RowSource(numbered_rows(50))
    assert write_xlsx(["n", "a", "b"], source.rows, target, sheet_rows=20, tmpdir=scratch) == 50
    assert source.closed.is_set()
    assert [len(sheet) for sheet in read_xlsx(target.read_bytes()).values()] == [21, 21, 11]
    assert list(scratch.iterdir()) == []


def test_a_failing_row_source_leaves_nothing_behind(tmp_path: Path) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    target = tmp_path / "out.xlsx"
    source = RowSource(numbered_rows(50), fail_after=25)
    with pytest.raises(RuntimeError, match="the row source failed"):
        write_xlsx(["n", "a", "b"], source.rows, target, sheet_rows=10, tmpdir=scratch)
    assert source.closed.is_set()
    assert not target.exists()
    assert list(scratch.iterdir()) == []


def test_a_row_of_the_wrong_width_is_a_bug() -> None:
    with pytest.raises(RowWidthError, match="Row 1 has 3 cells; the header has 2"):
        xlsx(["a", "b"], [["x", "y", "z"]])
