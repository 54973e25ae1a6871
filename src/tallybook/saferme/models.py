"""The v4 tables (DESIGN §9): integer ids, as SaferMe's clients expect.

Every table carries ``organization_id`` or is reached only through one that does, so that
every query is scoped to the caller's organisation in SQL. The rows the analytics count
(reports, their option selections and images, reads, alerts) carry their report's
``channel_id`` — and, for selections and images, its ``created_at`` — so that each
analytics question is one range scan of one index ``(channel_id, created_at, …)`` with no
join back to the reports. A report's channel and ``created_at`` never change, so the copies
cannot drift.

Names: a *channel* is what SaferMe's reports and analytics call an *account*
(``account_id`` in the API is ``channel_id`` here); a user is referred to by
``users.number`` (``user_id`` in the API), stored as ``user_number``; SaferMe's
*notifications* are *alerts* here (``notifications`` is the package of target cards).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import (
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from tallybook.kit.db import NEVER_REUSED, Base, JSONType, utcnow


def _organization() -> Mapped[UUID]:
    return mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))


class Team(Base):
    """The integer id a SaferMe client knows an organisation by (``team_id``, ``X-TeamId``,
    the ``f_<team>_…`` field keys). Made for an organisation the first time it uses v4."""

    __tablename__ = "v4_teams"
    __table_args__ = NEVER_REUSED

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    organization_id: Mapped[UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), unique=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Form(Base):
    __tablename__ = "v4_forms"
    __table_args__ = (Index(None, "organization_id", "id"), NEVER_REUSED)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    uuid: Mapped[UUID] = mapped_column(unique=True, default=uuid4)
    organization_id: Mapped[UUID] = _organization()
    name: Mapped[str] = mapped_column(String(255))
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class FormField(Base):
    """A field of a form. ``key`` is ``f_<team>_<form>_<field>``, unique everywhere; a
    report's ``form_fields`` name fields by it."""

    __tablename__ = "v4_form_fields"
    __table_args__ = (Index(None, "form_id", "form_order"), NEVER_REUSED)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    organization_id: Mapped[UUID] = _organization()
    form_id: Mapped[int] = mapped_column(ForeignKey("v4_forms.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(100), unique=True)
    label: Mapped[str] = mapped_column(Text)
    field_type: Mapped[str] = mapped_column(String(32))
    form_order: Mapped[int] = mapped_column(Integer)
    mandatory: Mapped[bool] = mapped_column(default=False)
    multi_select: Mapped[bool] = mapped_column(default=False)


class FieldOption(Base):
    """An option of a choice field (``types.CHOICE_TYPES``); ``value`` is
    ``<field key>_<n>``, n counting the field's options from 1."""

    __tablename__ = "v4_field_options"
    __table_args__ = (Index(None, "field_id", "display_order"), NEVER_REUSED)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    field_id: Mapped[int] = mapped_column(ForeignKey("v4_form_fields.id", ondelete="CASCADE"))
    value: Mapped[str] = mapped_column(String(150), unique=True)
    label: Mapped[str] = mapped_column(Text)
    display_order: Mapped[int] = mapped_column(Integer)
    enabled: Mapped[bool] = mapped_column(default=True)
    is_default: Mapped[bool] = mapped_column(default=False)


class Channel(Base):
    """A SaferMe channel: the *account* of its reports, states and analytics."""

    __tablename__ = "v4_channels"
    __table_args__ = (Index(None, "organization_id", "name", "id"), NEVER_REUSED)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    uuid: Mapped[UUID] = mapped_column(unique=True, default=uuid4)
    organization_id: Mapped[UUID] = _organization()
    form_id: Mapped[int | None] = mapped_column(ForeignKey("v4_forms.id"))
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ReportState(Base):
    __tablename__ = "v4_report_states"
    __table_args__ = (Index(None, "channel_id", "position", "id"), NEVER_REUSED)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    organization_id: Mapped[UUID] = _organization()
    channel_id: Mapped[int] = mapped_column(ForeignKey("v4_channels.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    position: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Report(Base):
    """A report in a channel. ``form_values`` holds the values as the client sent them,
    by field key (attachment fields as lists of attachment ids); the option selections
    are also rows of :class:`ReportSelection` and the attachments of
    :class:`ReportImage`, for the analytics to count in SQL."""

    __tablename__ = "v4_reports"
    __table_args__ = (
        UniqueConstraint("organization_id", "uuid"),
        # The analytics' index: a channel's reports in a time range, with the columns
        # reports_per_state and reports_per_user group by (an index-only scan).
        Index(
            "ix_v4_reports_channel_created",
            "channel_id",
            "created_at",
            "report_state_id",
            "user_number",
        ),
        # reports_per_state and reports_per_user count each state's, or each user's,
        # reports of a time range as one range of an index (migration 0006).
        Index("ix_v4_reports_channel_state_created", "channel_id", "report_state_id", "created_at"),
        Index(
            "ix_v4_reports_channel_user_created",
            "channel_id",
            "user_number",
            "is_anonymous",
            "created_at",
        ),
        NEVER_REUSED,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    uuid: Mapped[UUID] = mapped_column(default=uuid4)
    organization_id: Mapped[UUID] = _organization()
    channel_id: Mapped[int] = mapped_column(ForeignKey("v4_channels.id", ondelete="CASCADE"))
    report_state_id: Mapped[int | None] = mapped_column(
        ForeignKey("v4_report_states.id", ondelete="SET NULL")
    )
    user_number: Mapped[int | None] = mapped_column(ForeignKey("users.number", ondelete="SET NULL"))
    address: Mapped[str | None] = mapped_column(Text)
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    is_anonymous: Mapped[bool] = mapped_column(default=False)
    form_values: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ReportSelection(Base):
    """One option a report selected in a choice field (a multi-select gives one row per
    option). ``channel_id`` and ``created_at`` are the report's."""

    __tablename__ = "v4_report_selections"
    __table_args__ = (
        # reports_per_field_selection: each option's selections in a channel and time
        # range, one range of the index per option (migration 0006).
        Index(
            "ix_v4_report_selections_channel_option_created",
            "channel_id",
            "option_id",
            "created_at",
        ),
    )

    report_id: Mapped[int] = mapped_column(
        ForeignKey("v4_reports.id", ondelete="CASCADE"), primary_key=True
    )
    option_id: Mapped[int] = mapped_column(
        ForeignKey("v4_field_options.id", ondelete="CASCADE"), primary_key=True
    )
    field_id: Mapped[int] = mapped_column(ForeignKey("v4_form_fields.id", ondelete="CASCADE"))
    channel_id: Mapped[int] = mapped_column(ForeignKey("v4_channels.id", ondelete="CASCADE"))
    created_at: Mapped[datetime]


class FileAttachment(Base):
    """An uploaded image with its renditions, stored under the data directory
    (the file store's ``v4/<organization>/<id>/<rendition>.<extension>``). It belongs to at most one
    report field (:class:`ReportImage`)."""

    __tablename__ = "v4_file_attachments"
    __table_args__ = (Index(None, "organization_id", "id"), NEVER_REUSED)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    organization_id: Mapped[UUID] = _organization()
    user_number: Mapped[int | None] = mapped_column(ForeignKey("users.number", ondelete="SET NULL"))
    filename: Mapped[str | None] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    extension: Mapped[str] = mapped_column(String(8))
    rendition_type: Mapped[str] = mapped_column(String(100))
    rendition_extension: Mapped[str] = mapped_column(String(8))
    byte_size: Mapped[int] = mapped_column(Integer)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReportImage(Base):
    """An attachment placed in a field of a report (the analytics' ``report_image_id``).
    ``channel_id`` and ``created_at`` are the report's."""

    __tablename__ = "v4_report_images"
    __table_args__ = (
        Index(None, "report_id"),
        Index(None, "channel_id", "created_at"),
        NEVER_REUSED,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    organization_id: Mapped[UUID] = _organization()
    report_id: Mapped[int] = mapped_column(ForeignKey("v4_reports.id", ondelete="CASCADE"))
    field_id: Mapped[int] = mapped_column(ForeignKey("v4_form_fields.id", ondelete="CASCADE"))
    attachment_id: Mapped[int] = mapped_column(
        ForeignKey("v4_file_attachments.id", ondelete="CASCADE"), unique=True
    )
    channel_id: Mapped[int] = mapped_column(ForeignKey("v4_channels.id", ondelete="CASCADE"))
    created_at: Mapped[datetime]


class ReportRead(Base):
    """A user read a report (every read is a row; the analytics count distinct ones)."""

    __tablename__ = "v4_report_reads"
    __table_args__ = (
        Index(None, "report_id", "created_at"),
        # reports_read: a channel's reads in a time range with their previous ones (first
        # reads of a pair or report counted in one pass), and each user's (migration 0006).
        Index(
            "ix_v4_report_reads_channel_created_previous",
            "channel_id",
            "created_at",
            "previous_pair_read_at",
            "previous_report_read_at",
        ),
        Index("ix_v4_report_reads_channel_user_created", "channel_id", "user_number", "created_at"),
        NEVER_REUSED,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    organization_id: Mapped[UUID] = _organization()
    report_id: Mapped[int] = mapped_column(ForeignKey("v4_reports.id", ondelete="CASCADE"))
    user_number: Mapped[int] = mapped_column(ForeignKey("users.number", ondelete="CASCADE"))
    channel_id: Mapped[int] = mapped_column(ForeignKey("v4_channels.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Set by the database (triggers of migration 0006), never by the code: when the same
    # user last read the same report before this read, and when anyone last read it.
    previous_pair_read_at: Mapped[datetime | None]
    previous_report_read_at: Mapped[datetime | None]


class Alert(Base):
    """An alert of a report to a user: SaferMe's *notification* (``/api/v4/notifications``)."""

    __tablename__ = "v4_alerts"
    __table_args__ = (
        Index(None, "user_number", "created_at", "id"),
        Index(None, "report_id", "created_at"),
        # user_awareness: each user's alerts of a channel in a time range, with what the
        # counts need (migration 0006).
        Index(
            "ix_v4_alerts_channel_user_created",
            "channel_id",
            "user_number",
            "created_at",
            "previous_pair_alert_at",
            "read",
        ),
        NEVER_REUSED,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    organization_id: Mapped[UUID] = _organization()
    report_id: Mapped[int] = mapped_column(ForeignKey("v4_reports.id", ondelete="CASCADE"))
    user_number: Mapped[int] = mapped_column(ForeignKey("users.number", ondelete="CASCADE"))
    channel_id: Mapped[int] = mapped_column(ForeignKey("v4_channels.id", ondelete="CASCADE"))
    read: Mapped[bool] = mapped_column(default=False)
    read_at: Mapped[datetime | None]
    archived: Mapped[bool] = mapped_column(default=False)
    archived_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # Set by the database (triggers of migration 0006): when the same user was last
    # alerted to the same report before this alert.
    previous_pair_alert_at: Mapped[datetime | None]
