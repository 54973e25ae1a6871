"""Bulk import of chats with their messages from NDJSON, all or nothing per request.

Each line is validated by Pydantic straight from its bytes; the derived counters are
computed in Python; rows go in with Core executemany in batches as the lines are read.
Atomicity comes from the request's transaction: once a line is bad no more rows are
written, the remaining lines are still checked so that the 400 lists every bad one, and
raising the error rolls back what was already inserted.
"""

from __future__ import annotations

import codecs
import uuid
from collections.abc import Iterator
from typing import Any

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tallybook.chats import repository
from tallybook.chats.counters import ChatCounters
from tallybook.chats.models import Room
from tallybook.chats.schemas import CHAT_COLUMNS, ChatImportLine
from tallybook.kit.db import utcnow
from tallybook.kit.errors import BadRequest, InvalidPayload, PayloadTooLarge, validation_errors

MAX_CHATS = 100_000
MAX_LISTED_ERRORS = 1_000
BATCH_ROWS = 5_000
DUPLICATE_ID = "A chat with this id already exists."

_LINE_MESSAGES = {
    "json_invalid": "This line is not valid JSON.",
    "model_type": "Each line must be one JSON object: a chat with its messages.",
}


def import_ndjson(session: Session, room: Room, body: bytes) -> dict[str, int]:
    count = sum(1 for _ in _lines(body))
    if count == 0:
        raise InvalidPayload(
            [{"loc": ["body"], "msg": "The body holds no chat; send one JSON object per line."}]
        )
    if count > MAX_CHATS:
        raise PayloadTooLarge(
            f"An import holds at most {MAX_CHATS:,} chats and this one has {count:,}; "
            "split it into several requests."
        )
    batch = _ImportBatch(session, room)
    try:
        for number, raw in _lines(body):
            batch.add_line(number, raw)
        batch.flush()
    except IntegrityError:
        raise BadRequest(
            "The import conflicts with data written at the same time (a chat id taken "
            "meanwhile in this organisation, or the room removed); nothing was imported."
        ) from None
    batch.raise_errors()
    return {"chats": batch.chat_total, "messages": batch.message_total}


def _lines(body: bytes) -> Iterator[tuple[int, bytes]]:
    """The non-blank lines with their numbers, counting from 1 as an editor does."""
    start = len(codecs.BOM_UTF8) if body.startswith(codecs.BOM_UTF8) else 0
    number = 0
    size = len(body)
    while start < size:
        end = body.find(b"\n", start)
        if end == -1:
            end = size
        number += 1
        line = body[start:end]
        if line.strip():
            yield number, line
        start = end + 1


class _ImportBatch:
    def __init__(self, session: Session, room: Room) -> None:
        self.session = session
        self.organization_id = room.organization_id
        self.room_id = room.id
        self.now = utcnow()
        self.chats: list[dict[str, Any]] = []
        self.messages: list[dict[str, Any]] = []
        self.client_ids: dict[uuid.UUID, int] = {}
        self.unchecked_ids: list[tuple[uuid.UUID, int]] = []
        self.errors: list[dict[str, Any]] = []
        self.bad_lines: set[int] = set()
        self.truncated = False
        self.chat_total = 0
        self.message_total = 0

    def add_line(self, number: int, raw: bytes) -> None:
        try:
            line = ChatImportLine.model_validate_json(raw)
        except ValidationError as exc:
            self._reject(number, _line_errors(exc))
            return
        if line.id is not None and not self._claim_id(line.id, number):
            return
        if not self.errors:
            self._add_rows(line)
        if max(len(self.chats) + len(self.messages), len(self.unchecked_ids)) >= BATCH_ROWS:
            self.flush()

    def _claim_id(self, chat_id: uuid.UUID, number: int) -> bool:
        earlier = self.client_ids.get(chat_id)
        if earlier is not None:
            self._reject(number, [{"loc": ["id"], "msg": f"Line {earlier} has the same id."}])
            return False
        self.client_ids[chat_id] = number
        self.unchecked_ids.append((chat_id, number))
        return True

    def _add_rows(self, line: ChatImportLine) -> None:
        chat_id = line.id or uuid.uuid4()
        counters = ChatCounters()
        for message in line.messages:
            counters.add(message.type, message.sender_type, message.created_at)
            self.messages.append(
                {
                    "id": uuid.uuid4(),
                    "organization_id": self.organization_id,
                    "chat_id": chat_id,
                    "type": message.type,
                    "created_at": message.created_at,
                    "sender_type": message.sender_type,
                    "sender_id": message.sender_id,
                    "sender_name": message.sender_name,
                    "sender_public_name": message.sender_public_name,
                    "message": message.message,
                }
            )
        chat = line.model_dump(include=CHAT_COLUMNS)
        chat |= counters.columns()
        chat |= {
            "pk": uuid.uuid4(),
            "id": chat_id,
            "organization_id": self.organization_id,
            "room_id": self.room_id,
            "updated_at": self.now,
        }
        self.chats.append(chat)
        self.chat_total += 1
        self.message_total += len(line.messages)

    def flush(self) -> None:
        if self.unchecked_ids:
            taken = repository.existing_chat_ids(
                self.session, self.organization_id, (i for i, _ in self.unchecked_ids)
            )
            for chat_id, number in self.unchecked_ids:
                if chat_id in taken:
                    self._reject(number, [{"loc": ["id"], "msg": DUPLICATE_ID}])
        if not self.errors:
            repository.insert_chats(self.session, self.chats)
            repository.insert_messages(self.session, self.messages)
        self.chats.clear()
        self.messages.clear()
        self.unchecked_ids.clear()

    def _reject(self, number: int, errors: list[dict[str, Any]]) -> None:
        self.bad_lines.add(number)
        for error in errors:
            if len(self.errors) >= MAX_LISTED_ERRORS:
                self.truncated = True
                return
            self.errors.append({"loc": ["body", number, *error["loc"]], "msg": error["msg"]})

    def raise_errors(self) -> None:
        if not self.errors:
            return
        self.errors.sort(key=lambda error: int(error["loc"][1]))
        lines = len(self.bad_lines)
        detail = f"{lines} line{'s are' if lines > 1 else ' is'} invalid; nothing was imported."
        if self.truncated:
            detail += f" Only the first {MAX_LISTED_ERRORS} errors are listed."
        raise InvalidPayload(self.errors, detail)


def _line_errors(exc: ValidationError) -> list[dict[str, Any]]:
    raw = exc.errors(include_url=False, include_input=False)
    errors = validation_errors(list(raw))
    for original, error in zip(raw, errors, strict=True):
        if not original["loc"]:
            error["msg"] = _LINE_MESSAGES.get(original["type"], error["msg"])
    return errors
