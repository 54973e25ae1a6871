"""Memory stays flat: the peak while writing 10× the rows is the peak for 1× (tracemalloc
counts every Python allocation, XlsxWriter's and the csv module's included)."""

from __future__ import annotations

import tempfile
import tracemalloc
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest

from tallybook.kit.tabular import csv_chunks, write_xlsx

HEADER = ["n", "text", "when", "value", "empty", "formula", "more", "flag"]


def rows(count: int) -> Iterator[list[object]]:
    instant = datetime(2024, 1, 1, tzinfo=UTC)
    for number in range(count):
        yield [number, f"text {number}", instant, number / 7, None, "=1+1", "x" * 40, True]


def consume_csv(count: int) -> None:
    for _chunk in csv_chunks(HEADER, rows(count)):
        pass


def consume_xlsx(count: int) -> None:
    with tempfile.TemporaryFile() as file:
        write_xlsx(HEADER, rows(count), file)


def peak_bytes(write: Callable[[int], None], count: int) -> int:
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        write(count)
        return tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize(
    ("write", "count"), [(consume_csv, 5_000), (consume_xlsx, 1_000)], ids=["csv", "xlsx"]
)
def test_peak_memory_does_not_grow_with_the_rows(write: Callable[[int], None], count: int) -> None:
    write(10)  # first-use allocations (imports, caches) are not the rows'
    small = peak_bytes(write, count)
    large = peak_bytes(write, 10 * count)
    # 10× the rows is megabytes of output (over 3 MB for the CSV); the peak is one chunk
    # and one row either way.
    assert large < 2 * 2**20
    assert large - small < 128 * 2**10, (small, large)
