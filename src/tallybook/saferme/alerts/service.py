"""Alerts: made by a user with the settings permission (or an import), read, marked read
or archived and deleted by the user alerted."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from tallybook.kit.db import utcnow
from tallybook.kit.errors import InvalidPayload, NotFound, invalid
from tallybook.saferme.alerts import repository
from tallybook.saferme.alerts.schemas import AlertCreate, AlertUpdate, Notification
from tallybook.saferme.auth import TeamMember
from tallybook.saferme.models import Alert
from tallybook.saferme.ranges import ObjectRange
from tallybook.saferme.reports import repository as reports
from tallybook.saferme.reports.service import FUTURE_ALLOWANCE
from tallybook.saferme.schemas import refuse_nulls


def alert_out(row: Alert) -> Notification:
    return Notification(
        id=row.id,
        archived_at=row.archived_at,
        archived=row.archived,
        created_at=row.created_at,
        read=row.read,
        report_id=row.report_id,
        user_id=row.user_number,
    )


def create_alert(session: Session, member: TeamMember, data: AlertCreate) -> Notification:
    report = reports.report(session, member.organization_id, data.report_id)
    if report is None:
        raise invalid(["notification", "report_id"], "No such report in this team.")
    if not repository.user_in_team(session, member.organization_id, data.user_id):
        raise invalid(["notification", "user_id"], "No such user in this team.")
    now = utcnow()
    at = data.created_at or max(now, report.created_at)
    if at > now + FUTURE_ALLOWANCE:
        raise invalid(["notification", "created_at"], "may be at most 24 hours in the future")
    if at < report.created_at:
        raise invalid(["notification", "created_at"], "may not be before the report was made")
    row = Alert(
        organization_id=member.organization_id,
        report_id=report.id,
        user_number=data.user_id,
        channel_id=report.channel_id,
        read=data.read,
        read_at=at if data.read else None,
        created_at=at,
        updated_at=at,
    )
    session.add(row)
    session.flush()
    return alert_out(row)


def _own(session: Session, member: TeamMember, alert_id: int) -> Alert:
    row = repository.own_alert(session, member.organization_id, member.user_number, alert_id)
    if row is None:
        raise NotFound("No such notification.")
    return row


def get_alert(session: Session, member: TeamMember, alert_id: int) -> Notification:
    return alert_out(_own(session, member, alert_id))


def update_alert(session: Session, member: TeamMember, alert_id: int, data: AlertUpdate) -> None:
    row = _own(session, member, alert_id)
    changes = data.provided()
    refuse_nulls(changes, ("read", "archived"), "notification")
    now = utcnow()
    if "read" in changes and changes["read"] != row.read:
        row.read = changes["read"]
        row.read_at = now if row.read else None
    if "archived" in changes and changes["archived"] != row.archived:
        row.archived = changes["archived"]
        row.archived_at = now if row.archived else None
    row.updated_at = now
    session.flush()


def delete_alert(session: Session, member: TeamMember, alert_id: int) -> None:
    session.delete(_own(session, member, alert_id))
    session.flush()


def parse_orderby(raw: str | None) -> list[Any]:
    """notifications.md's ``<field> <direction>`` clauses; newest first by default. Nulls
    (``archived_at`` of an alert not archived) sort as the largest, on both stores."""
    order: list[Any] = []
    for clause in (raw or "created_at desc").split(","):
        parts = clause.split(" ")
        if (
            len(parts) != 2
            or parts[0] not in repository.ORDERABLE
            or parts[1]
            not in (
                "asc",
                "desc",
            )
        ):
            names = ", ".join(repository.ORDERABLE)
            raise InvalidPayload(
                [{"loc": ["query", "orderby"], "msg": f"must be '<field> asc|desc' with {names}"}]
            )
        column = repository.ORDERABLE[parts[0]]
        order.append(
            column.asc().nulls_last() if parts[1] == "asc" else column.desc().nulls_first()
        )
    order.append(Alert.id.desc())
    return order


def list_alerts(
    session: Session,
    member: TeamMember,
    archived: bool | None,
    orderby: str | None,
    page: ObjectRange,
) -> tuple[list[Notification], int]:
    order = parse_orderby(orderby)
    rows, total = repository.own_alerts(
        session, member.organization_id, member.user_number, archived, order, page
    )
    return [alert_out(row) for row in rows], total
