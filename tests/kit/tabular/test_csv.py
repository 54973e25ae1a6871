"""The CSV writer: values, unicode, quoting, formula escaping, chunking, laziness."""

from __future__ import annotations

import csv
import io
import math
import uuid
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tallybook.kit.schemas import format_timestamp
from tallybook.kit.tabular import csv_chunks, write_csv
from tallybook.kit.tabular.cells import RowWidthError
from tests.kit.tabular.helpers import RowSource, numbered_rows, read_csv


def whole(header: list[str], rows: list[list[object]]) -> bytes:
    return b"".join(csv_chunks(header, rows))


def test_every_value_type() -> None:
    instant = datetime(2021, 4, 1, 10, 10, 57, 242_123, tzinfo=UTC)
    rows: list[list[object]] = [
        ["text", 42, -7, 0.1 + 0.2, True, False, None, instant],
        ["", 2**70, -0.0, 1e-300, 1, 0, "None", instant.replace(tzinfo=None)],
    ]
    table = read_csv(whole(["a", "b", "c", "d", "e", "f", "g", "h"], rows))
    assert table == [
        ["a", "b", "c", "d", "e", "f", "g", "h"],
        [
            "text",
            "42",
            "-7",
            "0.30000000000000004",
            "true",
            "false",
            "",
            "2021-04-01T10:10:57.242Z",
        ],
        ["", str(2**70), "-0.0", "1e-300", "1", "0", "None", "2021-04-01T10:10:57.242Z"],
    ]
    assert float(table[1][3]) == 0.1 + 0.2  # floats round-trip


def test_datetimes_are_utc_with_milliseconds_as_the_api_writes_them() -> None:
    local = datetime(2021, 3, 28, 12, 30, 0, 999_999, tzinfo=ZoneInfo("Europe/Helsinki"))
    fixed = datetime(2021, 1, 1, 0, 0, tzinfo=timezone(timedelta(hours=-5)))
    early = datetime(5, 1, 1, tzinfo=UTC)
    table = read_csv(whole(["t"], [[local], [fixed], [early]]))
    assert [row[0] for row in table[1:]] == [
        format_timestamp(local),
        "2021-01-01T05:00:00.000Z",
        "0005-01-01T00:00:00.000Z",
    ]
    assert table[1][0] == "2021-03-28T09:30:00.999Z"  # summer time began that night: +03:00


@given(st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2999, 12, 31)))
def test_datetimes_match_the_apis_timestamps_over_the_supported_range(value: datetime) -> None:
    aware = value.replace(tzinfo=UTC)
    assert read_csv(whole(["t"], [[aware]]))[1] == [format_timestamp(aware)]


def test_other_values_are_their_text_and_non_finite_floats_are_escaped_text() -> None:
    ident = uuid.UUID("12345678-1234-5678-1234-567812345678")
    rows: list[list[object]] = [[ident, Decimal("-1.50"), math.inf, -math.inf, math.nan]]
    table = read_csv(whole(["a", "b", "c", "d", "e"], rows))
    assert table[1] == [str(ident), "'-1.50", "inf", "'-inf", "nan"]


def test_unicode_is_utf8_without_a_byte_order_mark() -> None:
    texts = ["Työpäivä", "数据导出", "😀 emoji", "עברית", "e\u0301", "\u202eevil", "\x00nul"]
    data = whole(["näkymä"], [[text] for text in texts])
    assert not data.startswith(b"\xef\xbb\xbf")
    assert data.startswith("näkymä\r\n".encode())
    assert [row[0] for row in read_csv(data)[1:]] == texts


def test_quoting_round_trips_through_the_csv_module() -> None:
    texts = ['say "hi"', "a,b", "line\nbreak", "cr\rinside", "crlf\r\n", " padded ", ""]
    data = whole(["x", "y"], [[text, "plain"] for text in texts])
    assert [row[0] for row in read_csv(data)[1:]] == texts
    assert b'"say ""hi"""' in data
    assert data.endswith(b"\r\n")


@pytest.mark.parametrize("prefix", ["=", "+", "-", "@", "\t", "\r"])
def test_text_that_starts_like_a_formula_is_escaped(prefix: str) -> None:
    text = f'{prefix}HYPERLINK("https://evil.example","x")'
    table = read_csv(whole([f"{prefix}head", "b"], [[text, f"in the middle {prefix}1"]]))
    assert table[0] == [f"'{prefix}head", "b"]
    assert table[1] == [f"'{text}", f"in the middle {prefix}1"]


def test_numbers_are_not_escaped_but_numeric_text_is() -> None:
    table = read_csv(whole(["n", "f", "t"], [[-5, -2.5, "-5"]]))
    assert table[1] == ["-5", "-2.5", "'-5"]


def test_a_single_empty_cell_is_quoted_so_the_line_is_not_blank() -> None:
    assert whole(["only"], [[""], [None]]) == b'only\r\n""\r\n""\r\n'


def test_header_only() -> None:
    assert whole(["a", "b"], []) == b"a,b\r\n"


def test_chunks_are_at_least_the_chunk_size_and_join_to_the_file() -> None:
    rows = list(numbered_rows(2_000))
    chunks = list(csv_chunks(["n", "a", "b"], rows, chunk_size=1_000))
    assert len(chunks) > 10
    assert all(len(chunk) >= 1_000 for chunk in chunks[:-1])
    assert all(len(chunk) < 1_000 + 200 for chunk in chunks[:-1])  # a row's worth over
    assert b"".join(chunks) == whole(["n", "a", "b"], rows)


def test_rows_are_read_lazily_and_closed_when_the_reader_stops() -> None:
    source = RowSource(numbered_rows(1_000_000))
    chunks = csv_chunks(["n", "a", "b"], source.rows, chunk_size=4_096)
    first = next(chunks)
    assert len(first) >= 4_096
    assert source.taken < 300  # about a chunk's worth, not the million
    chunks.close()
    assert source.closed.is_set()


def test_rows_are_closed_after_the_last_chunk() -> None:
    source = RowSource(numbered_rows(10))
    list(csv_chunks(["n", "a", "b"], source.rows))
    assert source.taken == 10
    assert source.closed.is_set()


def test_a_row_of_the_wrong_width_is_a_bug_that_stops_the_file() -> None:
    with pytest.raises(RowWidthError, match="Row 2 has 1 cells; the header has 2"):
        whole(["a", "b"], [["x", "y"], ["z"]])


def test_write_csv_writes_the_same_bytes_to_a_file() -> None:
    rows: list[list[object]] = [["=x", 1, None], ["y", 2.5, True]]
    file = io.BytesIO()
    write_csv(["a", "b", "c"], rows, file)
    assert file.getvalue() == whole(["a", "b", "c"], rows)


# The writer joins plain lines itself and leaves the rest to the csv module; whatever
# the mix, the bytes must be exactly the csv module's for the converted cells.

_TEXT = st.text(alphabet=st.sampled_from(list("ab ,\"\n\r=+-@\t'é😀")), max_size=6)
_CELL = st.one_of(
    _TEXT,
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
    st.datetimes(timezones=st.just(UTC)),
)


def _expected_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    if isinstance(value, int) or (isinstance(value, float) and math.isfinite(value)):
        return repr(value)
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@settings(max_examples=300, deadline=None)
@given(
    st.integers(min_value=1, max_value=5).flatmap(
        lambda width: st.lists(st.lists(_CELL, min_size=width, max_size=width), max_size=8)
    )
)
def test_output_is_the_csv_modules_for_any_rows(rows: list[list[object]]) -> None:
    width = len(rows[0]) if rows else 1
    header = [f"h{column}" for column in range(width)]
    expected = io.StringIO()
    writer = csv.writer(expected)
    writer.writerow(header)
    for row in rows:
        writer.writerow([_expected_text(value) for value in row])
    assert whole(header, rows) == expected.getvalue().encode()
