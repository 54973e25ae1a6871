"""What kind of chat, message and sender a row is, as stored.

The API's schemas spell the same values as ``Literal`` types (so the OpenAPI document keeps
them inline); a test checks that each matches its enum here.
"""

from __future__ import annotations

from enum import StrEnum


class ChatType(StrEnum):
    """``chats.chat_type``."""

    OPERATOR = "operator"
    VISITOR = "visitor"
    GROUP = "group"
    TASK = "task"
    EXTERNAL = "external"


class MessageType(StrEnum):
    """``chat_messages.type`` and ``chats.first_message_type``."""

    MSG = "msg"
    AUTOSUGGEST = "autosuggest"
    JOIN = "join"
    LEAVE = "leave"
    REPORTING_CARD = "reporting_card"  # written by Tallybook only (a BAR notification)


class SenderType(StrEnum):
    """``chat_messages.sender_type`` and ``chats.last_msg_sender_type``."""

    USER = "user"
    VISITOR = "visitor"
    SYSTEM = "system"  # Tallybook itself


CLIENT_MESSAGE_TYPES = frozenset(MessageType) - {MessageType.REPORTING_CARD}
CLIENT_SENDER_TYPES = frozenset(SenderType) - {SenderType.SYSTEM}
