from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationInfo, field_validator

from tallybook.kit.schemas import (
    InputModel,
    InputTimestamp,
    NotBoolean,
    OutputModel,
    ReadOnly,
    ResourceReadOnly,
    Timestamp,
)

ChatType = Literal["operator", "visitor", "group", "task", "external"]
ClientMessageType = Literal["msg", "autosuggest", "join", "leave"]
MessageType = Literal["msg", "autosuggest", "join", "leave", "reporting_card"]
ClientSenderType = Literal["user", "visitor"]
SenderType = Literal["user", "visitor", "system"]

ShortText = Annotated[str, Field(max_length=255)]
Url = Annotated[str, Field(max_length=8192)]
UrlTitle = Annotated[str, Field(max_length=2000)]


class RoomCreate(ResourceReadOnly):
    name: str = Field(min_length=1, max_length=255)
    display_name: ShortText | None = None
    domain: ShortText | None = None
    allowed_domains: list[ShortText] = Field(default_factory=list, max_length=1000)
    is_shared: bool = False
    language_code: str | None = Field(default=None, max_length=16)
    is_deleted: ReadOnly


class Room(OutputModel):
    id: uuid.UUID
    organization_id: uuid.UUID
    name: str
    display_name: str | None
    domain: str | None
    allowed_domains: list[str]
    is_shared: bool
    language_code: str | None
    created_at: Timestamp
    updated_at: Timestamp
    is_deleted: bool


class ChatCreate(InputModel):
    """A chat written by a client; ``id`` may be given so that re-importing is detectable.

    Chat ids are per organisation: only the organisation's own chats can make one taken.
    """

    id: uuid.UUID | None = Field(
        default=None,
        description="Optional; none of the organisation's chats may have this id yet "
        "(ids are per organisation).",
    )
    created_at: InputTimestamp
    ended_at: InputTimestamp | None = None
    is_private: bool = False
    chat_type: ChatType = "visitor"
    first_visitor_message_url: Url | None = None
    first_visitor_message_url_title: UrlTitle | None = None
    autosuggest_url: Url | None = None
    autosuggest_url_title: UrlTitle | None = None
    tag_count: Annotated[int, NotBoolean] = Field(default=0, ge=0, le=2_147_483_647)
    organization_id: ReadOnly
    room_id: ReadOnly
    room_name: ReadOnly
    updated_at: ReadOnly
    message_count: ReadOnly
    user_message_count: ReadOnly
    visitor_message_count: ReadOnly
    is_real_conversation: ReadOnly
    is_autosuggested: ReadOnly
    is_waiting: ReadOnly
    is_ended: ReadOnly

    @field_validator("ended_at")
    @classmethod
    def _ends_after_start(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        created_at = info.data.get("created_at")
        if value is not None and created_at is not None and value < created_at:
            raise ValueError("ended_at must not be before created_at")
        return value

    def columns(self) -> dict[str, Any]:
        """The stored columns this payload sets (client id included when given)."""
        values = self.model_dump(include=CHAT_COLUMNS)
        if self.id is None:
            del values["id"]
        return values


CHAT_COLUMNS = {
    "id",
    "created_at",
    "ended_at",
    "is_private",
    "chat_type",
    "first_visitor_message_url",
    "first_visitor_message_url_title",
    "autosuggest_url",
    "autosuggest_url_title",
    "tag_count",
}


class Chat(OutputModel):
    id: uuid.UUID
    created_at: Timestamp
    ended_at: Timestamp | None
    updated_at: Timestamp
    is_private: bool
    is_real_conversation: bool
    is_autosuggested: bool
    room_id: uuid.UUID
    message_count: int
    user_message_count: int
    visitor_message_count: int
    first_visitor_message_url: str | None
    first_visitor_message_url_title: str | None
    autosuggest_url: str | None
    autosuggest_url_title: str | None
    tag_count: int
    is_waiting: bool
    is_ended: bool
    chat_type: ChatType
    room_name: str
    organization_id: uuid.UUID


class MessageCreate(InputModel):
    type: ClientMessageType = Field(
        default="msg", description="`reporting_card` messages are written by Tallybook only."
    )
    created_at: InputTimestamp
    sender_type: ClientSenderType
    sender_id: str | None = Field(default=None, max_length=64)
    sender_name: ShortText | None = None
    sender_public_name: ShortText | None = None
    message: str | None = Field(default=None, max_length=2000)
    id: ReadOnly
    chat_id: ReadOnly
    attachments: ReadOnly


class Message(OutputModel):
    id: uuid.UUID
    chat_id: uuid.UUID
    type: MessageType
    created_at: Timestamp
    sender_type: SenderType
    sender_id: str | None
    sender_name: str | None
    sender_public_name: str | None
    message: str | None
    attachments: dict[str, Any] | None = Field(
        description="Read-only: set by Tallybook on `reporting_card` messages."
    )


class ChatImportLine(ChatCreate):
    """One line of an NDJSON import: a chat with its messages inline."""

    messages: list[MessageCreate] = Field(default_factory=list)


class ImportResult(OutputModel):
    chats: int
    messages: int
