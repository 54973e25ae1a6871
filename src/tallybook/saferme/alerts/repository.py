"""All SQL of alerts, scoped to the organisation (and, for the API, the user) in the query."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.orm import Session

from tallybook.organizations.models import User
from tallybook.saferme.models import Alert, Report
from tallybook.saferme.ranges import ObjectRange, fetch_page

ORDERABLE: dict[str, Any] = {
    "archived_at": Alert.archived_at,
    "read": Alert.read,
    "created_at": Alert.created_at,
    "updated_at": Alert.updated_at,
    "report.updated_at": Report.updated_at,
}


def user_in_team(session: Session, organization_id: UUID, number: int) -> bool:
    found = session.scalar(
        select(User.number).where(User.organization_id == organization_id, User.number == number)
    )
    return found is not None


def own_alert(
    session: Session, organization_id: UUID, user_number: int, alert_id: int
) -> Alert | None:
    return session.scalar(
        select(Alert).where(
            Alert.organization_id == organization_id,
            Alert.user_number == user_number,
            Alert.id == alert_id,
        )
    )


def own_alerts(
    session: Session,
    organization_id: UUID,
    user_number: int,
    archived: bool | None,
    order: Sequence[Any],
    page: ObjectRange,
) -> tuple[list[Alert], int]:
    stmt = (
        select(Alert)
        .join(Report, Report.id == Alert.report_id)
        .where(Alert.organization_id == organization_id, Alert.user_number == user_number)
    )
    if archived is not None:
        stmt = stmt.where(Alert.archived == archived)
    rows, total = fetch_page(session, stmt, order, page)
    return [row[0] for row in rows], total
