"""A ``logs`` export as readable text: per chat a header line, then one line per message,
and a blank line between chats.

    Chat 0b6d…  started 2024-03-01T12:00:00.000Z  ended 2024-03-01T12:30:00.000Z
    [2024-03-01T12:01:00.000Z] Visitor: Hi, do you ship to Finland?
    [2024-03-01T12:02:00.000Z] Anna: Hello! Yes.
    [2024-03-01T12:03:00.000Z] Anna (join)

Times are UTC. The sender is the sender's name, else their type; a message of another type
than ``msg`` names its type. Lines of a multi-line message after the first are indented,
so every line of the file that starts with ``[`` starts a message. UTF-8, ``\\n`` line ends.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import IO

from tallybook.exports.logs import Instant, LogRow
from tallybook.kit.schemas import format_timestamp

CHUNK_CHARS = 64 * 1024
CONTINUATION = "    "


def write_transcript(rows: Iterable[LogRow], file: IO[bytes]) -> int:
    """Write the rows (in chat then message order) as a transcript; how many were read."""
    pending: list[str] = []
    size = 0
    count = 0
    chat: str | None = None
    for row in rows:
        count += 1
        lines = []
        if row[0] != chat:
            if chat is not None:
                lines.append("")
            chat = row[0]
            lines.append(_chat_line(row))
        if row[3] is not None:
            lines.append(_message_line(row))
        text = "\n".join(lines) + "\n"
        pending.append(text)
        size += len(text)
        if size >= CHUNK_CHARS:
            file.write("".join(pending).encode())
            pending.clear()
            size = 0
    file.write("".join(pending).encode())
    return count


def _chat_line(row: LogRow) -> str:
    chat_id, created_at, ended_at = row[0], row[1], row[2]
    ended = f"ended {_time(ended_at)}" if ended_at is not None else "not ended"
    return f"Chat {chat_id}  started {_time(created_at)}  {ended}"


def _message_line(row: LogRow) -> str:
    _chat, _created, _ended, at, sender_type, sender_name, kind, text = row
    assert at is not None
    sender = _one_line(sender_name) if sender_name else (sender_type or "unknown")
    if kind and kind != "msg":
        sender = f"{sender} ({kind})"
    if not text:
        return f"[{_time(at)}] {sender}"
    body = text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\n" + CONTINUATION)
    return f"[{_time(at)}] {sender}: {body}"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _time(value: Instant) -> str:
    return value if isinstance(value, str) else format_timestamp(value)
