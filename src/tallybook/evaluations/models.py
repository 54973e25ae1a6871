from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tallybook.kit.db import Base, IdMixin, utcnow


class Evaluation(IdMixin, Base):
    """A target's value over one closed reporting period, computed once (DESIGN §6)."""

    __tablename__ = "evaluations"
    __table_args__ = (
        UniqueConstraint("target_id", "period_start", "period_end"),
        Index(None, "organization_id", "target_id", "created_at"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE")
    )
    target_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("targets.id", ondelete="CASCADE"))
    period_start: Mapped[datetime]
    period_end: Mapped[datetime]
    value: Mapped[float] = mapped_column(Float)  # 0 when no event matched, as /test says
    has_data: Mapped[bool]  # whether any event matched: an empty average is not a real 0
    threshold: Mapped[float] = mapped_column(Float)
    bound: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16))
    is_reached: Mapped[bool]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)  # when it was computed


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
