"""A `tallybook worker` process killed with SIGKILL in the middle of writing an export;
a second process takes the export over once the lease has expired and finishes it
(both backends, real processes).

To stop the first worker at a known point rather than at whatever moment a timer fires,
the file it is about to write is a named pipe: the worker writes the CSV into it until
the pipe's buffer (64 KiB) is full and then waits, with a good part of the file written,
its lease held and nothing recorded. The test sees the buffer full, kills the process,
and reads what it had written."""

from __future__ import annotations

import fcntl
import os
import signal
import struct
import termios
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from tallybook.exports.models import ReportExport
from tallybook.kit.db import Database, utcnow
from tests.exports.factories import ExportApi, chat, logs, message
from tests.fixtures.tenants import Tenant
from tests.worker.factories import worker_process

LEASE = 120.0  # far longer than the test's steps take, even under load
PIPE_BYTES = 64 * 1024  # Linux's default pipe buffer
CHATS = 300
MESSAGES = 10  # 3,000 rows, about 400 KB of CSV: far more than the pipe holds


def _history() -> list[dict[str, Any]]:
    return [
        chat(
            f"2024-03-01T{n // 60:02d}:{n % 60:02d}:00Z",
            *[
                message(
                    f"2024-03-01T{n // 60:02d}:{n % 60:02d}:{m:02d}Z",
                    "visitor" if m % 2 else "user",
                    f"Message {m} of chat {n}: the quick brown fox jumps over the lazy dog",
                    sender_name="Vera" if m % 2 else "Anna",
                )
                for m in range(MESSAGES)
            ],
        )
        for n in range(CHATS)
    ]


def _wait_for(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def _buffered(fd: int) -> int:
    return int(struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0])


def _row(database: Database, export_id: str) -> ReportExport:
    with database.unit_of_work() as session:
        row = session.get(ReportExport, uuid.UUID(export_id))
        assert row is not None
        return row


@pytest.mark.slow
def test_sigkill_mid_export_then_a_second_worker_finishes_it(
    client: TestClient, database: Database, tenant: Tenant, tmp_path: Path
) -> None:
    api = ExportApi(client, tenant)
    room_id = api.room()
    api.import_chats(room_id, _history())
    export = api.start(logs(room_id))
    files = database.settings.data_dir / "files"
    folder = files / "exports" / tenant.org_id.hex / uuid.UUID(export["id"]).hex
    folder.mkdir(parents=True)
    pipe = folder / "1.csv.partial"  # where the first attempt writes
    os.mkfifo(pipe)
    reader = os.open(pipe, os.O_RDONLY | os.O_NONBLOCK)
    settings = {"files_url": files.as_uri(), "lease_seconds": str(LEASE)}
    try:
        first = worker_process(database, None, tmp_path / "first", None, **settings)
        try:
            _wait_for(lambda: _buffered(reader) >= PIPE_BYTES, "the worker to fill the pipe")
            assert first.poll() is None  # alive, waiting to write more
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=30)
        assert first.returncode == -signal.SIGKILL
        written = os.read(reader, PIPE_BYTES)
    finally:
        os.close(reader)
    assert written.startswith(b"chat_id,chat_created_at,chat_ended_at,message_created_at,")
    assert written.count(b"\r\n") > 300  # hundreds of rows were out when it died

    row = _row(database, export["id"])
    assert (row.attempts, row.completed_at, row.file_key) == (1, None, None)
    assert row.lease_until is not None and row.lease_until > utcnow()
    in_progress = api.get(export["id"])
    assert (in_progress["completed_at"], in_progress["url"]) == (None, None)

    # While the dead worker's lease holds, nobody takes the export.
    waiting = worker_process(database, None, tmp_path / "second", None, **settings)
    out, err = waiting.communicate(timeout=120)
    assert waiting.returncode == 0, err.decode()
    assert b'"exports": {}' in out
    with database.unit_of_work() as session:  # the lease runs out, as time would make it
        session.execute(
            update(ReportExport)
            .where(ReportExport.id == uuid.UUID(export["id"]))
            .values(lease_until=utcnow() - timedelta(seconds=1))
        )

    second = worker_process(database, None, tmp_path / "second", None, **settings)
    out, err = second.communicate(timeout=120)
    assert second.returncode == 0, err.decode()
    assert b'"completed": 1' in out

    done = api.get(export["id"])
    assert done["is_failed"] is False and done["url"] is not None
    assert _row(database, export["id"]).attempts == 2
    body = client.get(done["url"]).content
    assert body.startswith(written)  # the same file, this time whole
    assert body.count(b"\r\n") == 1 + CHATS * MESSAGES
    assert sorted(p.name for p in folder.iterdir()) == ["2.csv"]  # the pipe is cleared away
