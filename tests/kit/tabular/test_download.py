"""Downloads over HTTP: a tiny FastAPI app with the project's error handlers, through the
test client and through a real uvicorn server on loopback (for disconnections)."""

from __future__ import annotations

import os
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.responses import StreamingResponse

from tallybook.kit.errors import NotFound, install_error_handlers
from tallybook.kit.tabular import FileFormat, chunks_response, download_response
from tallybook.kit.tabular import response as tabular_response
from tests.kit.tabular.helpers import RowSource, numbered_rows, read_csv, read_xlsx

HEADER = ["n", "text", "more"]
CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class Downloads:
    """A FastAPI app serving whatever row source the test sets, as each format."""

    def __init__(self) -> None:
        self.source: Iterable[Sequence[object]] = []
        self.chunks: Iterator[bytes] = iter([])
        self.stem = "table"
        self.loop_threads: set[int] = set()
        self.app = FastAPI()
        install_error_handlers(self.app)
        self.app.post("/download/{file_format}")(self._download)
        self.app.post("/chunks")(self._chunks)
        self.app.get("/ping")(self._ping)

    async def _download(self, file_format: FileFormat) -> StreamingResponse:
        self.loop_threads.add(threading.get_ident())
        return download_response(HEADER, self.source, file_format, self.stem)

    async def _chunks(self) -> StreamingResponse:
        self.loop_threads.add(threading.get_ident())
        return chunks_response(self.chunks, FileFormat.CSV, "raw")

    async def _ping(self) -> dict[str, str]:
        return {"pong": "yes"}


@pytest.fixture
def downloads() -> Downloads:
    return Downloads()


@pytest.fixture
def client(downloads: Downloads) -> Iterator[TestClient]:
    with TestClient(downloads.app) as test_client:
        yield test_client


def test_csv_download(downloads: Downloads, client: TestClient) -> None:
    source = RowSource([[1, "=cmd", datetime(2021, 4, 1, tzinfo=UTC)], [2, "Työ", None]])
    downloads.source = source.rows
    downloads.stem = "workflow-1-step-3"
    response = client.post("/download/csv")
    assert response.status_code == 200
    assert response.headers["content-type"] == CSV_TYPE
    assert response.headers["content-disposition"] == (
        'attachment; filename="workflow-1-step-3.csv"'
    )
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert read_csv(response.content) == [
        HEADER,
        ["1", "'=cmd", "2021-04-01T00:00:00.000Z"],
        ["2", "Työ", ""],
    ]
    assert source.closed.is_set()
    # The rows were read on worker threads, never on the event loop's.
    assert source.threads
    assert not source.threads & downloads.loop_threads


def test_xlsx_download(downloads: Downloads, client: TestClient) -> None:
    source = RowSource([[1, "=cmd", datetime(2021, 4, 1, tzinfo=UTC)], [2, "Työ", None]])
    downloads.source = source.rows
    downloads.stem = "Työpaja / raportti"
    response = client.post("/download/xlsx")
    assert response.status_code == 200
    assert response.headers["content-type"] == XLSX_TYPE
    assert response.headers["content-disposition"] == (
        'attachment; filename="Tyopaja _ raportti.xlsx"; '
        "filename*=UTF-8''Ty%C3%B6paja%20_%20raportti.xlsx"
    )
    assert int(response.headers["content-length"]) == len(response.content)
    assert read_xlsx(response.content) == {
        "Sheet1": [HEADER, [1, "'=cmd", datetime(2021, 4, 1)], [2, "Työ", None]]
    }
    assert source.closed.is_set()
    assert not source.threads & downloads.loop_threads


def test_a_large_csv_download_is_streamed_in_chunks(
    downloads: Downloads, client: TestClient
) -> None:
    downloads.source = numbered_rows(50_000)
    sizes = []
    with client.stream("POST", "/download/csv") as response:
        assert "content-length" not in response.headers
        sizes = [len(chunk) for chunk in response.iter_raw()]
    assert len(sizes) > 10
    assert max(sizes) < 2 * 64 * 1024


def test_bytes_from_another_writer_are_served_the_same_way(
    downloads: Downloads, client: TestClient
) -> None:
    closed = threading.Event()
    threads: set[int] = set()

    def chunks() -> Iterator[bytes]:
        try:
            for part in (b"one\r\n", b"two\r\n"):
                threads.add(threading.get_ident())
                yield part
        finally:
            closed.set()

    downloads.chunks = chunks()
    response = client.post("/chunks")
    assert response.status_code == 200
    assert response.headers["content-type"] == CSV_TYPE
    assert response.headers["content-disposition"] == 'attachment; filename="raw.csv"'
    assert response.content == b"one\r\ntwo\r\n"
    assert closed.is_set()
    assert threads
    assert not threads & downloads.loop_threads


def _failing_at_once(error: Exception) -> Iterator[list[object]]:
    raise error
    yield []


@pytest.mark.parametrize("file_format", ["csv", "xlsx"])
def test_a_domain_error_before_the_first_byte_is_its_4xx(
    downloads: Downloads, client: TestClient, file_format: str
) -> None:
    downloads.source = _failing_at_once(NotFound("No such workflow."))
    response = client.post(f"/download/{file_format}")
    assert response.status_code == 404
    assert response.json() == {"detail": "No such workflow.", "code": "not_found"}


@pytest.mark.parametrize("file_format", ["csv", "xlsx"])
def test_an_unexpected_error_before_the_first_byte_is_a_generic_500(
    downloads: Downloads, client: TestClient, file_format: str
) -> None:
    downloads.source = _failing_at_once(RuntimeError("SELECT secret FROM somewhere"))
    response = client.post(f"/download/{file_format}")
    assert response.status_code == 500
    body = response.json()
    assert body["code"] == "internal_error"
    assert "secret" not in response.text


def test_an_xlsx_whose_rows_fail_midway_is_a_500_not_a_file(
    downloads: Downloads, client: TestClient
) -> None:
    source = RowSource(numbered_rows(1_000), fail_after=500)
    downloads.source = source.rows
    response = client.post("/download/xlsx")
    assert response.status_code == 500
    assert response.json()["code"] == "internal_error"
    assert source.closed.is_set()


# A real server: what a client sees when things go wrong mid-stream, and what the server
# releases when the client goes away.


# Small socket buffers on both sides, so that a server sending a few megabytes to a client
# that stops reading is really left waiting mid-file (Linux would otherwise buffer it all).
BUFFER = 16 * 1024


@contextmanager
def serve(app: FastAPI) -> Iterator[str]:
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, BUFFER)  # accepted ones inherit it
    listener.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="critical", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        listener.close()


def small_buffer_client() -> httpx.Client:
    options = [(socket.SOL_SOCKET, socket.SO_RCVBUF, BUFFER)]
    # A workbook arrives only once built: allow for a machine busy with other work.
    transport = httpx.HTTPTransport(socket_options=options)
    return httpx.Client(transport=transport, timeout=60)


def endless(pause: float = 0.0) -> Iterator[list[object]]:
    number = 0
    while True:
        if pause:
            time.sleep(pause)
        yield [number, "text", "more text"]
        number += 1


def wait_for(event: threading.Event, what: str) -> None:
    assert event.wait(10), what


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.01)


def wait_until_closed(directory: Path) -> None:
    deadline = time.monotonic() + 10
    while open_files_under(directory):
        assert time.monotonic() < deadline, f"files still open: {open_files_under(directory)}"
        time.sleep(0.02)


def open_files_under(directory: Path) -> list[str]:
    links = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            links.append(os.readlink(f"/proc/self/fd/{fd}"))
        except OSError:
            continue
    return [link for link in links if link.startswith(str(directory))]


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The process's temporary directory, for this test only."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return tmp_path


def test_a_csv_whose_rows_fail_midway_ends_as_an_incomplete_transfer(
    downloads: Downloads,
) -> None:
    source = RowSource(numbered_rows(100_000), fail_after=50_000)
    downloads.source = source.rows
    with (
        serve(downloads.app) as url,
        httpx.Client() as http,
        pytest.raises(httpx.RemoteProtocolError),
    ):
        http.post(f"{url}/download/csv")
    assert source.closed.is_set()


def test_a_client_leaving_a_csv_download_closes_the_rows(downloads: Downloads) -> None:
    source = RowSource(endless())
    downloads.source = source.rows
    with serve(downloads.app) as url, small_buffer_client() as http:
        with http.stream("POST", f"{url}/download/csv") as response:
            assert response.status_code == 200
            chunks = response.iter_raw()
            next(chunks)
            time.sleep(0.2)
            assert not source.closed.is_set()  # still streaming, held back by the client
        wait_for(source.closed, "the rows were not closed after the client left")
        taken = source.taken
        time.sleep(0.2)
        assert source.taken == taken


def test_a_client_leaving_while_the_xlsx_is_written_stops_it_and_leaves_no_file(
    downloads: Downloads, private_tmp: Path
) -> None:
    source = RowSource(endless())
    downloads.source = source.rows
    with serve(downloads.app) as url, httpx.Client() as http:
        with pytest.raises(httpx.ReadTimeout):
            http.post(f"{url}/download/xlsx", timeout=httpx.Timeout(10, read=0.5))
        wait_for(source.closed, "the workbook was still being written after the client left")
        assert source.taken > 0
        wait_until_closed(private_tmp)
        assert list(private_tmp.iterdir()) == []


def test_a_client_leaving_an_xlsx_download_midway_leaves_no_file(
    downloads: Downloads, private_tmp: Path
) -> None:
    source = RowSource(numbered_rows(30_000))
    downloads.source = source.rows
    with serve(downloads.app) as url, small_buffer_client() as http:
        with http.stream("POST", f"{url}/download/xlsx") as response:
            assert response.status_code == 200
            assert int(response.headers["content-length"]) > 20 * BUFFER
            chunks = response.iter_raw()  # kept: a dropped iterator closes the response
            next(chunks)
            time.sleep(0.2)
            assert open_files_under(private_tmp)  # the spooled workbook, half sent
        wait_until_closed(private_tmp)
    assert source.closed.is_set()
    assert list(private_tmp.iterdir()) == []


def test_the_event_loop_serves_others_while_a_workbook_is_written(
    downloads: Downloads,
) -> None:
    source = RowSource(endless(pause=0.001))
    downloads.source = source.rows
    result: dict[str, Any] = {}

    def download(url: str) -> None:
        with httpx.Client() as http:
            try:
                http.post(f"{url}/download/xlsx", timeout=httpx.Timeout(10, read=3))
            except httpx.ReadTimeout:
                result["timed out"] = True

    with serve(downloads.app) as url:
        downloader = threading.Thread(target=download, args=(url,))
        downloader.start()
        wait_until(lambda: source.taken >= 50, "the workbook was not being written")
        with httpx.Client() as http:
            started = time.monotonic()
            assert http.get(f"{url}/ping").json() == {"pong": "yes"}
            assert time.monotonic() - started < 1  # a blocked loop: the 3 s timeout
        assert not source.closed.is_set()  # still writing while the ping was answered
        downloader.join(10)
    assert result == {"timed out": True}
    wait_for(source.closed, "the workbook was still being written after the client left")


def test_workbooks_beyond_the_build_limit_wait_for_their_turn(
    downloads: Downloads, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tabular_response, "XLSX_BUILDS", 1)
    first = RowSource(endless(pause=0.001))
    second = RowSource(numbered_rows(10))
    answers: dict[str, Any] = {}

    def download(name: str, url: str, read_timeout: float) -> None:
        with httpx.Client() as http:
            try:
                answers[name] = http.post(
                    f"{url}/download/xlsx", timeout=httpx.Timeout(10, read=read_timeout)
                )
            except httpx.ReadTimeout:
                answers[name] = "timed out"

    with serve(downloads.app) as url:
        downloads.source = first.rows
        one = threading.Thread(target=download, args=("first", url, 2))
        one.start()
        wait_until(lambda: first.taken > 0, "the first workbook was not being written")
        downloads.source = second.rows
        two = threading.Thread(target=download, args=("second", url, 10))
        two.start()
        time.sleep(0.5)
        assert second.taken == 0  # waiting: the one build thread is the first's
        one.join(10)
        two.join(10)
    assert answers["first"] == "timed out"
    assert first.closed.is_set()
    assert answers["second"].status_code == 200
    assert len(read_xlsx(answers["second"].content)["Sheet1"]) == 11
