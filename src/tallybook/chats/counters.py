"""The derived state of a chat, computed from its messages in Python (imports).

The same rules are applied in SQL when one message is added (repository.count_message):
the first message is the earliest by ``created_at``, the earlier-written one on a tie;
the last ``msg`` is the latest by ``created_at``, the later-written one on a tie.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from tallybook.chats.types import MessageType, SenderType


@dataclass
class ChatCounters:
    message_count: int = 0
    user_message_count: int = 0
    visitor_message_count: int = 0
    first_message_at: datetime | None = None
    first_message_type: str | None = None
    last_msg_at: datetime | None = None
    last_msg_sender_type: str | None = None

    def add(self, type_: str, sender_type: str, created_at: datetime) -> None:
        if self.first_message_at is None or created_at < self.first_message_at:
            self.first_message_at = created_at
            self.first_message_type = type_
        if type_ != MessageType.MSG:
            return
        self.message_count += 1
        if sender_type == SenderType.USER:
            self.user_message_count += 1
        elif sender_type == SenderType.VISITOR:
            self.visitor_message_count += 1
        if self.last_msg_at is None or created_at >= self.last_msg_at:
            self.last_msg_at = created_at
            self.last_msg_sender_type = sender_type

    def columns(self) -> dict[str, Any]:
        # Not dataclasses.asdict: it deep-copies every value, a cost an import pays per chat.
        return {field.name: getattr(self, field.name) for field in _FIELDS}


_FIELDS = fields(ChatCounters)
