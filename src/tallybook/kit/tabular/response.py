"""Serving a table as a file download, streamed, off the event loop.

``download_response`` returns a ``StreamingResponse`` that does its work when Starlette
calls it, after the endpoint has returned:

1. It *opens* the body on a worker thread — for CSV, the first chunk (so the rows' query
   has started); for XLSX, the whole workbook, written to an anonymous temporary file.
   The client's disconnection is watched meanwhile, and stops the writing at the next
   row. An exception here comes before any byte is sent, so the application's error
   handlers answer it (a 4xx the row source raises, or the generic 500).
2. It sends the headers (with ``Content-Length`` for XLSX) and the body in chunks, each
   read on a worker thread. An error now can only cut the connection short: the client
   sees an incomplete transfer, never a truncated file that looks whole.
3. Whatever happened, it closes the body on a worker thread: the CSV generator (which
   closes the rows, e.g. a database cursor) or the temporary file (which deletes it).

Building a workbook holds a thread for as long as it takes (minutes for a million rows).
At most ``XLSX_BUILDS`` are built at once per process, on threads of their own limit, so
they never take all of the thread pool that Starlette shares with synchronous endpoints
and dependencies; one more waits for its turn (and leaves the queue if its client goes).
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from typing import IO, assert_never

import anyio
import anyio.to_thread
from anyio.lowlevel import RunVar
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from tallybook.kit.tabular.cells import close_rows
from tallybook.kit.tabular.csv_writer import CHUNK_SIZE, csv_chunks
from tallybook.kit.tabular.formats import MEDIA_TYPES, FileFormat
from tallybook.kit.tabular.names import content_disposition
from tallybook.kit.tabular.xlsx_writer import write_xlsx

XLSX_BUILDS = 4
_xlsx_builds: RunVar[anyio.CapacityLimiter] = RunVar("tallybook_xlsx_builds")


def download_response(
    header: Sequence[str],
    rows: Iterable[Sequence[object]],
    file_format: FileFormat,
    filename_stem: str,
) -> StreamingResponse:
    """The table as a file download named ``<safe stem>.<format>``.

    ``rows`` may be a slow, synchronous generator over millions of rows: it is consumed on
    worker threads after the endpoint has returned, so it must own what it reads from (a
    connection or cursor of its own, not the request's database session), and it is closed
    when the download ends, completes or not.
    """
    make_body: Callable[[threading.Event], _Body]
    match file_format:
        case FileFormat.CSV:

            def make_body(stop: threading.Event) -> _Body:
                return _ChunksBody(csv_chunks(header, _until_stopped(rows, stop)))

        case FileFormat.XLSX:

            def make_body(stop: threading.Event) -> _Body:
                guarded = _until_stopped(rows, stop)
                return _SpooledBody(lambda file: write_xlsx(header, guarded, file))

        case _:
            assert_never(file_format)
    return _DownloadResponse(make_body, file_format, filename_stem)


def chunks_response(
    chunks: Iterator[bytes], file_format: FileFormat, filename_stem: str
) -> StreamingResponse:
    """A download of bytes some writer produces (a text format, say) with the same
    behaviour as ``download_response``: the first chunk is made before the headers are
    sent, every chunk on a worker thread, and ``chunks`` is closed (if it can be) at the
    end. The client leaving is noticed between chunks."""
    return _DownloadResponse(lambda _stop: _ChunksBody(chunks), file_format, filename_stem)


class DownloadStopped(Exception):
    """The client went away while the file was being written."""


def _until_stopped(
    rows: Iterable[Sequence[object]], stop: threading.Event
) -> Iterator[Sequence[object]]:
    try:
        for row in rows:
            if stop.is_set():
                raise DownloadStopped
            yield row
    finally:
        close_rows(rows)


class _Body:
    """What a download sends; every method runs on a worker thread."""

    slow_open = False  # opening takes long: run it on the threads of XLSX_BUILDS

    def open(self) -> None:
        """The slow part before the first byte; raise to fail the request."""

    def size(self) -> int | None:
        return None

    def read(self) -> bytes:
        """The next chunk; ``b""`` at the end."""
        raise NotImplementedError

    def close(self) -> None:
        """Release everything, whether the download completed or not."""


class _ChunksBody(_Body):
    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._first = b""

    def open(self) -> None:
        self._first = next(self._chunks, b"")

    def read(self) -> bytes:
        if self._first:
            first, self._first = self._first, b""
            return first
        return next(self._chunks, b"")

    def close(self) -> None:
        close = getattr(self._chunks, "close", None)
        if callable(close):
            close()


class _SpooledBody(_Body):
    """A file that must be complete before it is sent (a zip): written to an anonymous
    temporary file (no name on disk; its space is freed when it is closed)."""

    slow_open = True

    def __init__(self, write: Callable[[IO[bytes]], object]) -> None:
        self._write = write
        self._file: IO[bytes] | None = None
        self._size = 0

    def open(self) -> None:
        self._file = tempfile.TemporaryFile()  # noqa: SIM115 (closed by close())
        self._write(self._file)
        self._size = self._file.tell()
        self._file.seek(0)

    def size(self) -> int | None:
        return self._size

    def read(self) -> bytes:
        assert self._file is not None
        return self._file.read(CHUNK_SIZE)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


class _DownloadResponse(StreamingResponse):
    def __init__(
        self,
        make_body: Callable[[threading.Event], _Body],
        file_format: FileFormat,
        filename_stem: str,
    ) -> None:
        super().__init__(
            _nothing(),
            media_type=MEDIA_TYPES[file_format],
            headers={
                "Content-Disposition": content_disposition(filename_stem, file_format),
                "Cache-Control": "no-store",
                "X-Content-Type-Options": "nosniff",
            },
        )
        self._stop = threading.Event()
        self._body = make_body(self._stop)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            if not await self._open(receive):
                return
            size = self._body.size()
            if size is not None:
                self.headers["Content-Length"] = str(size)
            self.body_iterator = self._chunks()
            await super().__call__(scope, receive, send)
        finally:
            self._stop.set()
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(self._body.close)

    async def _open(self, receive: Receive) -> bool:
        """Open the body on a thread while watching for the client leaving; whether to go
        on. The thread is waited for even then, so the body is never closed under it."""
        failure: list[BaseException] = []

        def open_body() -> None:
            try:
                self._body.open()
            except BaseException as error:  # re-raised below, outside the task group
                failure.append(error)

        limiter = _build_limiter() if self._body.slow_open else None
        async with anyio.create_task_group() as group:
            group.start_soon(self._watch, receive, group.cancel_scope)
            await anyio.to_thread.run_sync(open_body, limiter=limiter)
            group.cancel_scope.cancel()
        if self._stop.is_set():
            return False  # the client left (perhaps while waiting for a thread)
        if failure:
            raise failure[0]
        return True

    async def _watch(self, receive: Receive, scope: anyio.CancelScope) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        self._stop.set()
        scope.cancel()

    async def _chunks(self) -> AsyncIterator[bytes]:
        while chunk := await anyio.to_thread.run_sync(self._body.read):
            yield chunk


def _build_limiter() -> anyio.CapacityLimiter:
    """This event loop's limiter of workbook builds (as anyio keeps its default one)."""
    try:
        return _xlsx_builds.get()
    except LookupError:
        limiter = anyio.CapacityLimiter(XLSX_BUILDS)
        _xlsx_builds.set(limiter)
        return limiter


async def _nothing() -> AsyncIterator[bytes]:
    return
    yield  # an async generator that yields nothing
