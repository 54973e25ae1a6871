"""Throughput and memory of the tabular writers (kit.tabular): CSV and XLSX downloads.

Writes N rows of 30 columns shaped like a workflow step's raw events (a timestamp, an
integer, a float, 24 text fields of 2-60 characters, three empty cells; one text in 50
starts with "-", so it is escaped) and prints rows/s, the output size and the growth of
the process's peak resident memory (VmHWM, reset before each run through
/proc/self/clear_refs, so Linux only), and the most space the named temporary files took
at once (XlsxWriter's, sampled every 0.2 s in a private temporary directory; the
anonymous file a download spools the workbook into adds the output size): XLSX is built
on disk.

Two paths:
- ``writer``: the pure writers, ``csv_chunks`` into a discarding sink, ``write_xlsx`` into
  an anonymous temporary file;
- ``download``: ``download_response`` called as an ASGI app, exactly as Starlette calls
  it, with a ``send`` that discards the body: the thread hops per chunk and the XLSX
  spooling included, no network.

The rows come from a generator that cycles over 1,000 prepared rows, so the time is the
writer's; the source alone is timed too and printed.

    .venv/bin/python bench/tabular.py --rows 1000000
"""

from __future__ import annotations

import argparse
import asyncio
import re
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from _common import machine

from tallybook.kit.tabular import FileFormat, csv_chunks, download_response, write_xlsx

HEADER = [
    "timestamp",
    "event_version",
    "value",
    "vendor",
    "category",
    "action",
    "label",
    "source",
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
    "properties",
    "partner_organization_ids",
    "id",
]
assert len(HEADER) == 30

_TEXT = [
    "com.example.shop",
    "navigation",
    "https://shop.example.com/products/winter-boots?colour=black&size=42",
    "5f0c3a8e-7d1b-4c2e-9a6f-1b2c3d4e5f60",
    "untrusted",
    "campaign-2024",
    "",
    "Product page",
    "Checkout",
    "3",
    "v-9f8e7d6c5b4a",
    "s-1a2b3c4d5e6f",
    "u-42",
    "Chrome",
    "120.0.6099.109",
    "1080",
    "1920",
    "desktop",
    "Helsinki",
    "FI",
    "Example Telecom Oy",
    "Linux",
    "6.1",
    "Example Org",
]


def prepared_rows(count: int = 1_000) -> list[list[object]]:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    rows: list[list[object]] = []
    for number in range(count):
        texts = [f"{text}{number % 7}" if text else text for text in _TEXT]
        if number % 50 == 0:
            texts[7] = "-" + texts[7]  # needs escaping: the row takes the csv module path
        rows.append(
            [
                start + timedelta(seconds=number * 37, microseconds=number * 1_000),
                1,
                number / 8,
                *texts,
                None,
                None,
                None,
            ]
        )
    return rows


def source(rows: int, prepared: list[list[object]]) -> Iterator[list[object]]:
    size = len(prepared)
    for number in range(rows):
        yield prepared[number % size]


def peak_rss_kb() -> int:
    status = Path("/proc/self/status").read_text()
    match = re.search(r"VmHWM:\s+(\d+) kB", status)
    assert match
    return int(match.group(1))


def current_rss_kb() -> int:
    match = re.search(r"VmRSS:\s+(\d+) kB", Path("/proc/self/status").read_text())
    assert match
    return int(match.group(1))


def reset_peak_rss() -> None:
    Path("/proc/self/clear_refs").write_text("5")


def write_csv_sink(rows: Iterator[list[object]]) -> int:
    return sum(len(chunk) for chunk in csv_chunks(HEADER, rows))


def write_xlsx_file(rows: Iterator[list[object]]) -> int:
    with tempfile.TemporaryFile() as file:
        write_xlsx(HEADER, rows, file)
        return file.tell()


def download(file_format: FileFormat) -> Callable[[Iterator[list[object]]], int]:
    def run(rows: Iterator[list[object]]) -> int:
        response = download_response(HEADER, rows, file_format, "bench")
        sent = 0

        async def receive() -> dict[str, Any]:
            await asyncio.Event().wait()  # the client never leaves
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            nonlocal sent
            if message["type"] == "http.response.body":
                sent += len(message.get("body", b""))

        scope = {"type": "http", "asgi": {"spec_version": "2.3"}, "method": "POST"}
        asyncio.run(response(scope, receive, send))  # type: ignore[arg-type]
        return sent

    return run


RUNS: dict[str, Callable[[Iterator[list[object]]], int]] = {
    "writer-csv": write_csv_sink,
    "writer-xlsx": write_xlsx_file,
    "download-csv": download(FileFormat.CSV),
    "download-xlsx": download(FileFormat.XLSX),
}


class DiskPeak:
    """The most space the files under the temporary directory took at once, sampled."""

    def __init__(self) -> None:
        self.directory = Path(tempfile.gettempdir())
        self.peak = 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._done.wait(0.2):
            self.peak = max(self.peak, self._used())

    def _used(self) -> int:
        used = 0
        for path in self.directory.rglob("*"):
            try:
                used += path.stat().st_size
            except OSError:  # removed meanwhile
                continue
        return used

    def __enter__(self) -> DiskPeak:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._done.set()
        self._thread.join()

    @property
    def peak_mb(self) -> float:
        return self.peak / 2**20


def measure(name: str, rows: int, prepared: list[list[object]]) -> None:
    reset_peak_rss()
    before = current_rss_kb()
    with DiskPeak() as disk:
        started, cpu = time.perf_counter(), time.process_time()
        size = RUNS[name](source(rows, prepared))
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    growth = (peak_rss_kb() - before) / 1024
    print(
        f"{name:<14} {rows:>10,} rows  {wall:7.2f} s  {rows / wall:>9,.0f} rows/s  "
        f"CPU {cpu:6.2f} s  {size / 2**20:8.1f} MB out  peak RSS growth {growth:6.1f} MB  "
        f"temporary files {disk.peak_mb:7.1f} MB",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows per run")
    parser.add_argument(
        "--run",
        action="append",
        choices=sorted(RUNS),
        help="what to measure (repeatable; default: all four)",
    )
    args = parser.parse_args()
    private = tempfile.TemporaryDirectory(prefix="bench-tabular-")
    tempfile.tempdir = private.name
    prepared = prepared_rows()
    print(machine())
    print(f"{len(HEADER)} columns")
    started = time.perf_counter()
    for _row in source(args.rows, prepared):
        pass
    print(f"the row source alone: {args.rows / (time.perf_counter() - started):,.0f} rows/s")
    for name in args.run or RUNS:
        measure(name, args.rows, prepared)
    private.cleanup()


if __name__ == "__main__":
    main()
