from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tallybook.chats.models import Chat
from tallybook.kit.db import Base, IdMixin, JSONType, utcnow
from tallybook.notifications.states import NotificationState


class NotificationSetting(IdMixin, Base):
    """A delivery channel of a target; one table for every channel type (the outbox points
    here). ``channel_type`` (column ``kind``) is a ``channels.registry.ChannelType``;
    ``slack_channel`` (column ``channel``) is where a token-mode Slack setting posts."""

    __tablename__ = "notification_settings"
    __table_args__ = (Index(None, "organization_id", "target_id", "kind"),)

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE")
    )
    target_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("targets.id", ondelete="CASCADE"), index=True
    )
    channel_type: Mapped[str] = mapped_column("kind", String(8))
    name: Mapped[str] = mapped_column(String(255), default="")
    is_notification_active: Mapped[bool] = mapped_column(default=True)
    last_notification_sent: Mapped[datetime | None]
    # bar: the chat by its row key (a chat's API id is unique per organisation only);
    # the API's ``channel_id`` is that chat's id, null once the chat is deleted.
    chat_pk: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("chats.pk", ondelete="SET NULL"))
    chat: Mapped[Chat | None] = relationship(lazy="selectin")
    # slack, token mode
    token: Mapped[str | None] = mapped_column(Text)
    slack_channel: Mapped[str | None] = mapped_column("channel", String(255))
    user: Mapped[str | None] = mapped_column(String(255))
    # slack, webhook mode
    incoming_webhook_url: Mapped[str | None] = mapped_column(Text)
    icon_url: Mapped[str | None] = mapped_column(Text)
    # email
    email: Mapped[str | None] = mapped_column(String(320))
    is_bundleable: Mapped[bool] = mapped_column(default=False)
    # delivery state, kept by the worker
    last_error: Mapped[str | None] = mapped_column(Text)
    consecutive_errors: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    modified_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    @property
    def channel_id(self) -> uuid.UUID | None:
        """The BAR chat's id, as the API shows it."""
        return self.chat.id if self.chat is not None else None


class Notification(IdMixin, Base):
    """The outbox: one row per (setting, target, kind, period), so nothing is queued twice.

    ``channel_type`` (column ``channel``) is the setting's ``ChannelType``; ``kind`` is the
    card's ``NotificationKind`` (alert or snapshot).

    ``state`` is ``pending`` until delivery ends as ``sent``, ``failed`` (refused by the
    channel, or retried for too long) or ``cancelled`` (the setting was switched off).
    A pending row is being delivered while ``lease_until`` is in the future.
    """

    __tablename__ = "notifications"
    __table_args__ = (
        UniqueConstraint("setting_id", "target_id", "kind", "period_start", "period_end"),
        Index(None, "state", "next_attempt_at"),
        Index(None, "organization_id", "target_id", "created_at"),
        Index(None, "organization_id", "bundle_key", "state"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE")
    )
    target_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("targets.id", ondelete="CASCADE"))
    setting_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("notification_settings.id", ondelete="CASCADE"), index=True
    )
    channel_type: Mapped[str] = mapped_column("channel", String(8))  # the setting's ChannelType
    kind: Mapped[str] = mapped_column(String(8))  # NotificationKind: alert | snapshot
    period_start: Mapped[datetime]
    period_end: Mapped[datetime]
    card: Mapped[dict[str, Any]] = mapped_column(JSONType)
    state: Mapped[str] = mapped_column(String(12), default=NotificationState.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    bundle_key: Mapped[str | None] = mapped_column(String(320))  # e-mail digests
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]


class DeliveryAttempt(IdMixin, Base):
    """One try at delivering a notification; written when it starts, closed when it ends.

    An attempt never closed was cut short (the worker died); the next claim records that.
    """

    __tablename__ = "delivery_attempts"
    __table_args__ = (Index(None, "notification_id", "number"),)

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE")
    )
    notification_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("notifications.id", ondelete="CASCADE")
    )
    number: Mapped[int] = mapped_column(Integer)
    worker: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(16))  # AttemptOutcome; null while open
    error: Mapped[str | None] = mapped_column(Text)
