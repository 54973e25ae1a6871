from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    ColumnElement,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    and_,
    func,
)
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tallybook.chats.types import ChatType, MessageType, SenderType
from tallybook.kit.db import Base, IdMixin, JSONType, utcnow


class Room(IdMixin, Base):
    __tablename__ = "rooms"
    __table_args__ = (Index(None, "organization_id", "created_at", "id"),)

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE")
    )
    name: Mapped[str] = mapped_column(String(255))
    display_name: Mapped[str | None] = mapped_column(String(255))
    domain: Mapped[str | None] = mapped_column(String(255))
    allowed_domains: Mapped[list[str]] = mapped_column(JSON, default=list)
    is_shared: Mapped[bool] = mapped_column(default=False)
    language_code: Mapped[str | None] = mapped_column(String(16))
    is_deleted: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Chat(Base):
    """A chat; its counters and first/last markers are kept up to date as messages are written.

    ``id`` is the chat's id in the API, which a client may choose: it is unique per
    organisation only, so that an id taken in one organisation says nothing in another.
    ``pk`` is the row's own key, never shown; the BAR notification setting refers to it.
    Messages refer to ``(organization_id, id)``.

    ``first_message_*`` describe the earliest message by ``created_at`` (any type but the
    system's), ``last_msg_*`` the latest message of type ``msg``; the derived flags below
    are computed from them, in Python and in SQL alike.
    """

    __tablename__ = "chats"
    __table_args__ = (
        UniqueConstraint("organization_id", "id"),
        Index(None, "room_id", "created_at", "id"),
        Index(None, "organization_id", "created_at"),
    )

    pk: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    id: Mapped[uuid.UUID] = mapped_column(default=uuid.uuid4)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE")
    )
    room_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("rooms.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    is_private: Mapped[bool] = mapped_column(default=False)
    chat_type: Mapped[str] = mapped_column(String(16), default=ChatType.VISITOR)
    first_visitor_message_url: Mapped[str | None] = mapped_column(Text)
    first_visitor_message_url_title: Mapped[str | None] = mapped_column(Text)
    autosuggest_url: Mapped[str | None] = mapped_column(Text)
    autosuggest_url_title: Mapped[str | None] = mapped_column(Text)
    tag_count: Mapped[int] = mapped_column(Integer, default=0)
    message_count: Mapped[int] = mapped_column(Integer, default=0)
    user_message_count: Mapped[int] = mapped_column(Integer, default=0)
    visitor_message_count: Mapped[int] = mapped_column(Integer, default=0)
    first_message_at: Mapped[datetime | None]
    first_message_type: Mapped[str | None] = mapped_column(String(16))
    last_msg_at: Mapped[datetime | None]
    last_msg_sender_type: Mapped[str | None] = mapped_column(String(16))

    room: Mapped[Room] = relationship(lazy="joined", innerjoin=True)

    @property
    def room_name(self) -> str:
        return self.room.name

    @hybrid_property
    def is_ended(self) -> bool:
        return self.ended_at is not None

    @is_ended.inplace.expression
    @classmethod
    def _is_ended_expression(cls) -> ColumnElement[bool]:
        return cls.ended_at.is_not(None)

    @hybrid_property
    def is_waiting(self) -> bool:
        return self.ended_at is None and self.last_msg_sender_type == SenderType.VISITOR

    @is_waiting.inplace.expression
    @classmethod
    def _is_waiting_expression(cls) -> ColumnElement[bool]:
        # coalesce: never NULL, so that NOT is_waiting matches chats without messages too.
        return and_(
            cls.ended_at.is_(None),
            func.coalesce(cls.last_msg_sender_type, "") == SenderType.VISITOR,
        )

    @hybrid_property
    def is_real_conversation(self) -> bool:
        return self.visitor_message_count >= 1 and self.user_message_count >= 2

    @is_real_conversation.inplace.expression
    @classmethod
    def _is_real_conversation_expression(cls) -> ColumnElement[bool]:
        return and_(cls.visitor_message_count >= 1, cls.user_message_count >= 2)

    @hybrid_property
    def is_autosuggested(self) -> bool:
        return self.first_message_type == MessageType.AUTOSUGGEST

    @is_autosuggested.inplace.expression
    @classmethod
    def _is_autosuggested_expression(cls) -> ColumnElement[bool]:
        return func.coalesce(cls.first_message_type, "") == MessageType.AUTOSUGGEST


class ChatMessage(IdMixin, Base):
    __tablename__ = "chat_messages"
    __table_args__ = (
        # A chat id is its organisation's: the message's organisation is part of the key.
        ForeignKeyConstraint(
            ["organization_id", "chat_id"],
            ["chats.organization_id", "chats.id"],
            ondelete="CASCADE",
        ),
        Index(None, "chat_id", "created_at", "id"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE")
    )
    chat_id: Mapped[uuid.UUID]
    type: Mapped[str] = mapped_column(String(16), default=MessageType.MSG)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sender_type: Mapped[str] = mapped_column(String(16))
    sender_id: Mapped[str | None] = mapped_column(String(64))
    sender_name: Mapped[str | None] = mapped_column(String(255))
    sender_public_name: Mapped[str | None] = mapped_column(String(255))
    message: Mapped[str | None] = mapped_column(Text)
    attachments: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
