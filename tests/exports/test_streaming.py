"""A logs export is read with a server-side cursor in batches, so the memory it takes does
not grow with the number of rows (both backends)."""

from __future__ import annotations

import os
import tracemalloc
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from tallybook.chats import repository as chats
from tallybook.chats.models import Room
from tallybook.exports.logs import HEADER, LogSpec, log_rows
from tallybook.kit.db import Database
from tallybook.kit.tabular import write_csv
from tests.fixtures.tenants import Tenant

START = datetime(2024, 3, 1, tzinfo=UTC)


def _room_with(database: Database, tenant: Tenant, chat_count: int, per_chat: int) -> uuid.UUID:
    """Chats and messages written straight to the store, in bulk (fast test data)."""
    with database.unit_of_work() as session:
        room = Room(organization_id=tenant.org_id, name="Bulk")
        session.add(room)
        session.flush()
        chat_rows, message_rows = [], []
        for n in range(chat_count):
            chat_id, created = uuid.uuid4(), START + timedelta(minutes=n)
            chat_rows.append(
                {
                    "pk": uuid.uuid4(),
                    "id": chat_id,
                    "organization_id": tenant.org_id,
                    "room_id": room.id,
                    "created_at": created,
                    "updated_at": created,
                    "message_count": per_chat,
                }
            )
            message_rows += [
                {
                    "id": uuid.uuid4(),
                    "organization_id": tenant.org_id,
                    "chat_id": chat_id,
                    "type": "msg",
                    "created_at": created + timedelta(seconds=m),
                    "sender_type": "visitor",
                    "sender_name": "Vera",
                    "message": f"message {m} of chat {n}, long enough to weigh something",
                }
                for m in range(per_chat)
            ]
        chats.insert_chats(session, chat_rows)
        chats.insert_messages(session, message_rows)
        return room.id


def _spec(tenant: Tenant, room_id: uuid.UUID) -> LogSpec:
    return LogSpec(tenant.org_id, room_id, START, START + timedelta(days=365), None, 0)


def _peak_while_writing(database: Database, spec: LogSpec, batch_rows: int) -> tuple[int, int]:
    """(rows, peak bytes allocated) of writing the export as CSV."""
    with open(os.devnull, "wb") as sink, database.unit_of_work() as session:
        rows = log_rows(session, spec, batch_rows)
        tracemalloc.start()
        try:
            count = _Counted(rows)
            write_csv(HEADER, count, sink)
            _current, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    return count.seen, peak


class _Counted(Iterator[Any]):
    def __init__(self, rows: Iterator[Any]) -> None:
        self.rows = rows
        self.seen = 0

    def __next__(self) -> Any:
        row = next(self.rows)
        self.seen += 1
        return row


def test_memory_does_not_grow_with_the_rows(database: Database, tenant: Tenant) -> None:
    small = _room_with(database, tenant, 20, 25)  # 500 rows
    large = _room_with(database, tenant, 200, 50)  # 10,000 rows
    rows_small, peak_small = _peak_while_writing(database, _spec(tenant, small), 200)
    rows_large, peak_large = _peak_while_writing(database, _spec(tenant, large), 200)
    assert (rows_small, rows_large) == (500, 10_000)
    # Twenty times the rows: the peak is that of a batch and a CSV chunk, whatever the
    # number of rows (a list of all rows would take several megabytes).
    assert peak_large < peak_small + 512 * 1024, (peak_small, peak_large)


def test_postgresql_reads_through_a_server_side_cursor(database: Database, tenant: Tenant) -> None:
    if database.dialect != "postgresql":
        pytest.skip("SQLite has no server-side cursors; its driver fetches as asked")
    room = _room_with(database, tenant, 10, 10)
    with database.unit_of_work() as session:
        rows = log_rows(session, _spec(tenant, room), 7)
        next(rows)
        open_cursors = session.execute(text("SELECT count(*) FROM pg_cursors")).scalar_one()
        assert open_cursors >= 1
        assert sum(1 for _ in rows) == 99
