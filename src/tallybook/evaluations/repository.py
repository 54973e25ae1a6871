from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, or_, select
from sqlalchemy.orm import Session

from tallybook.evaluations.models import Evaluation
from tallybook.kit.db import utcnow
from tallybook.kit.leases import claim, hold, insert_ignoring_duplicates
from tallybook.targets.bounds import TargetBound, TargetStatus
from tallybook.targets.models import Target, TargetSchedule


@dataclass(frozen=True)
class NewEvaluation:
    """An ``evaluations`` row to insert: one target's value over one closed period."""

    organization_id: uuid.UUID
    target_id: uuid.UUID
    period_start: datetime
    period_end: datetime
    value: float  # 0 when no event matched
    has_data: bool
    threshold: float
    bound: TargetBound
    status: TargetStatus
    is_reached: bool
    created_at: datetime  # when it was computed


def add_missing_schedules(session: Session) -> None:
    """A schedule row for every target that has none yet (new targets are due at once)."""
    missing = (
        select(Target.id, Target.organization_id)
        .outerjoin(TargetSchedule, TargetSchedule.target_id == Target.id)
        .where(TargetSchedule.target_id.is_(None))
    )
    rows = [
        {"target_id": target_id, "organization_id": organization_id}
        for target_id, organization_id in session.execute(missing)
    ]
    insert_ignoring_duplicates(session, TargetSchedule, rows)


def _due(now: datetime) -> ColumnElement[bool]:
    edited_since_planned = select(Target.id).where(
        Target.id == TargetSchedule.target_id, Target.modified_at > TargetSchedule.planned_at
    )
    return or_(
        TargetSchedule.next_due_at.is_(None),
        TargetSchedule.next_due_at <= now,
        TargetSchedule.changed_at > TargetSchedule.planned_at,
        edited_since_planned.exists(),
    )


def lock_claimed(session: Session, target_ids: Sequence[uuid.UUID], owner: str) -> set[uuid.UUID]:
    """Of these schedules, those this claim still owns, locked for this transaction."""
    return hold(session, TargetSchedule, TargetSchedule.target_id, target_ids, owner)


def claim_due_schedules(
    session: Session, *, as_of: datetime, limit: int, owner: str, lease_seconds: float
) -> list[uuid.UUID]:
    """Lease targets with work due as of ``as_of``; leases are judged by the real clock."""
    now = utcnow()
    return claim(
        session,
        TargetSchedule,
        TargetSchedule.target_id,
        [_due(as_of)],
        [TargetSchedule.next_due_at.asc().nulls_first()],
        limit=limit,
        owner=owner,
        lease_until=now + timedelta(seconds=lease_seconds),
        now=now,
    )


def claimed_schedules(
    session: Session, target_ids: Sequence[uuid.UUID], owner: str
) -> list[TargetSchedule]:
    """The schedules among these that this claim still holds the lease of."""
    stmt = (
        select(TargetSchedule)
        .where(TargetSchedule.target_id.in_(target_ids), TargetSchedule.lease_owner == owner)
        .order_by(TargetSchedule.target_id)
    )
    return list(session.scalars(stmt))


def add_evaluations(session: Session, rows: Sequence[NewEvaluation]) -> None:
    """Insert these evaluations; a period already evaluated keeps its row."""
    insert_ignoring_duplicates(session, Evaluation, [asdict(row) for row in rows])


def recent_evaluations(
    session: Session, organization_id: uuid.UUID, target_id: uuid.UUID, until: datetime, count: int
) -> list[Evaluation]:
    """The ``count`` latest evaluations of periods ending at or before ``until``, oldest first
    (by end: after a period change a longer period can start before a shorter one)."""
    stmt = (
        select(Evaluation)
        .where(
            Evaluation.organization_id == organization_id,
            Evaluation.target_id == target_id,
            Evaluation.period_end <= until,
        )
        .order_by(Evaluation.period_end.desc(), Evaluation.period_start.desc())
        .limit(count)
    )
    return list(reversed(session.scalars(stmt).all()))


def evaluations_query(organization_id: uuid.UUID, target_id: uuid.UUID) -> Select[Any]:
    return select(Evaluation).where(
        Evaluation.organization_id == organization_id, Evaluation.target_id == target_id
    )
