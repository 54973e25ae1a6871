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
