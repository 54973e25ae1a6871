from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tallybook.kit.db import Base, IdMixin, utcnow


class ReportExport(IdMixin, Base):
    """One export and the state of its making (a persisted state machine):

    - *pending*: ``completed_at`` null; due for a worker from ``next_attempt_at``; a worker
      that claims it sets ``lease_owner``/``lease_until`` and counts the attempt.
    - *completed*: ``completed_at`` set, ``is_failed`` false, the file at ``file_key``
      until ``expires_at``; then the worker deletes the file and clears ``file_key``.
    - *failed*: ``completed_at`` set, ``is_failed`` true, ``error`` a sentence for people
      (``error_type`` the last exception's type, for operators).

    ``user_id`` is the user whose collection the export is in (the path's user);
    ``created_by_user_id`` the caller who started it (that user, or a manager).
    """

    __tablename__ = "report_exports"
    __table_args__ = (
        Index(None, "organization_id", "user_id", "created_at", "id"),
        Index(None, "completed_at", "next_attempt_at"),
        Index(None, "expires_at"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE")
    )
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_by_user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE")
    )
    room_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("rooms.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(16))
    format: Mapped[str] = mapped_column(String(16))
    starting_at: Mapped[datetime]
    ending_at: Mapped[datetime]
    is_real_conversation: Mapped[bool | None]
    min_message_count: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    completed_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    is_failed: Mapped[bool | None]
    error: Mapped[str | None] = mapped_column(Text)
    error_type: Mapped[str | None] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None]
    file_key: Mapped[str | None] = mapped_column(String(512))
    file_size: Mapped[int | None] = mapped_column(BigInteger)
    row_count: Mapped[int | None] = mapped_column(BigInteger)
