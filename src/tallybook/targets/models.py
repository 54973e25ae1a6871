from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tallybook.kit.db import Base, IdMixin, JSONType, utcnow


class Target(IdMixin, Base):
    __tablename__ = "targets"
    __table_args__ = (Index(None, "organization_id", "workflow_id"),)

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE")
    )
    workflow_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workflows.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(255))
    reporting_threshold: Mapped[float] = mapped_column(Float)
    reporting_query: Mapped[dict[str, Any]] = mapped_column(JSONType)
    reporting_field: Mapped[str] = mapped_column(String(64))
    reporting_period: Mapped[str] = mapped_column(String(16))
    # NULL: the same as reporting_period, so it follows a later change of that period.
    notification_period: Mapped[str | None] = mapped_column(String(16))
    reporting_datasource: Mapped[str] = mapped_column(String(32), default="GENERIC_REPORTING")
    reporting_bound: Mapped[str] = mapped_column(String(8))
    are_notifications_active: Mapped[bool] = mapped_column(default=True)
    target_active_from: Mapped[datetime | None]
    target_active_until: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    modified_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # Read by the API only (the worker loads schedules on their own); none until the
    # worker's first pass after the target's creation.
    schedule: Mapped[TargetSchedule | None] = relationship(viewonly=True, lazy="select")

    @property
    def effective_notification_period(self) -> str:
        return self.notification_period or self.reporting_period

    @property
    def processing_error(self) -> TargetSchedule | None:
        """The schedule, when the worker's latest processing of the target failed."""
        schedule = self.schedule
        return schedule if schedule is not None and schedule.failure_count > 0 else None


class TargetSchedule(Base):
    """What the worker has done for a target and when it next has work; claimed with a lease.

    ``planned_at`` is when the pass that computed ``next_due_at`` began: a target edited, or
    a setting changed (``changed_at``), after that is due at once, so a change made even
    while a pass was running takes effect on the next pass.
    """

    __tablename__ = "target_schedules"
    __table_args__ = (Index(None, "next_due_at"),)

    target_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("targets.id", ondelete="CASCADE"), primary_key=True
    )
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    next_due_at: Mapped[datetime | None]
    planned_at: Mapped[datetime | None]  # when the pass that set next_due_at began
    changed_at: Mapped[datetime | None]  # a settings change asked for a look (API only)
    evaluated_until: Mapped[datetime | None]  # end of the latest evaluated closed period
    snapshot_until: Mapped[datetime | None]  # end of the latest notification period carded
    checked_at: Mapped[datetime | None]  # the latest ongoing check
    alerted_period_start: Mapped[datetime | None]  # the period an alert went out for
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None]
    # The worker's last failure on this target, cleared by its next success. Only a
    # sentence written by us and the exception's type: never its text.
    failure_count: Mapped[int] = mapped_column(default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(String(255))
    last_error_type: Mapped[str | None] = mapped_column(String(64))
    last_error_at: Mapped[datetime | None]
