from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tallybook.kit.db import Base, IdMixin, utcnow

KINDS = ("bar", "slack", "email")


class NotificationSetting(IdMixin, Base):
    """A delivery channel of a target; one table for the three kinds (the outbox points here)."""

    __tablename__ = "notification_settings"
    __table_args__ = (Index(None, "organization_id", "target_id", "kind"),)

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE")
    )
    target_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("targets.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(8))
    name: Mapped[str] = mapped_column(String(255), default="")
    is_notification_active: Mapped[bool] = mapped_column(default=True)
    last_notification_sent: Mapped[datetime | None]
    # bar
    channel_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("chats.id", ondelete="SET NULL")
    )
    # slack, token mode
    token: Mapped[str | None] = mapped_column(Text)
    channel: Mapped[str | None] = mapped_column(String(255))
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
