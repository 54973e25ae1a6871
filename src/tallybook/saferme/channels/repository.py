"""All SQL of channels and report states, scoped to the organisation in the query."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from tallybook.saferme.listing import ListFilter
from tallybook.saferme.models import Channel, Form, Report, ReportState
from tallybook.saferme.ranges import ObjectRange, fetch_page


def _reports_count() -> Any:
    return (
        select(func.count(Report.id))
        .where(Report.channel_id == Channel.id)
        .correlate(Channel)
        .scalar_subquery()
    )


def channels_page(
    session: Session,
    organization_id: UUID,
    page: ObjectRange,
    ids: list[int] | None,
    listed: ListFilter,
) -> tuple[list[tuple[Channel, int]], int]:
    stmt = select(Channel, _reports_count()).where(Channel.organization_id == organization_id)
    stmt = listed.apply(stmt, Channel.updated_at)
    if ids is not None:
        stmt = stmt.where(Channel.id.in_(ids))
    rows, total = fetch_page(session, stmt, (Channel.name, Channel.id), page)
    return [(row[0], int(row[1])) for row in rows], total


def channel(session: Session, organization_id: UUID, channel_id: int) -> Channel | None:
    return session.scalar(
        select(Channel).where(Channel.organization_id == organization_id, Channel.id == channel_id)
    )


def reports_count(session: Session, channel_id: int) -> int:
    return int(
        session.scalar(select(func.count(Report.id)).where(Report.channel_id == channel_id)) or 0
    )


def form_exists(session: Session, organization_id: UUID, form_id: int) -> bool:
    found = session.scalar(
        select(Form.id).where(Form.organization_id == organization_id, Form.id == form_id)
    )
    return found is not None


def states_page(
    session: Session,
    organization_id: UUID,
    channel_id: int | None,
    page: ObjectRange,
    listed: ListFilter,
) -> tuple[list[ReportState], int]:
    stmt: Select[Any] = select(ReportState).where(ReportState.organization_id == organization_id)
    stmt = listed.apply(stmt, ReportState.updated_at)
    if channel_id is not None:
        stmt = stmt.where(ReportState.channel_id == channel_id)
    order = (ReportState.channel_id, ReportState.position, ReportState.id)
    rows, total = fetch_page(session, stmt, order, page)
    return [row[0] for row in rows], total


def state(session: Session, organization_id: UUID, state_id: int) -> ReportState | None:
    return session.scalar(
        select(ReportState).where(
            ReportState.organization_id == organization_id, ReportState.id == state_id
        )
    )
