"""Channels and report states: creating, reading, changing, deleting."""

from __future__ import annotations

from sqlalchemy.orm import Session

from tallybook.kit.errors import NotFound, invalid
from tallybook.saferme.auth import TeamMember
from tallybook.saferme.channels import repository
from tallybook.saferme.channels.schemas import (
    Channel,
    ChannelCreate,
    ChannelUpdate,
    ReportState,
    ReportStateCreate,
)
from tallybook.saferme.listing import EVERY, ListFilter
from tallybook.saferme.models import Channel as ChannelRow
from tallybook.saferme.models import ReportState as ReportStateRow
from tallybook.saferme.ranges import ObjectRange
from tallybook.saferme.schemas import refuse_nulls


def channel_out(member: TeamMember, row: ChannelRow, reports_count: int) -> Channel:
    manages = member.has("settings")
    return Channel(
        id=row.id,
        uuid=row.uuid,
        name=row.name,
        description=row.description,
        form_id=row.form_id,
        team_id=member.team_id,
        reports_count=reports_count,
        is_manageable_by=manages,
        is_operable_by=manages,
        slug=row.name,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def list_channels(
    session: Session,
    member: TeamMember,
    page: ObjectRange,
    ids: list[int] | None,
    listed: ListFilter = EVERY,
) -> tuple[list[Channel], int]:
    rows, total = repository.channels_page(session, member.organization_id, page, ids, listed)
    return [channel_out(member, row, count) for row, count in rows], total


def channel_row(session: Session, member: TeamMember, channel_id: int) -> ChannelRow:
    found = repository.channel(session, member.organization_id, channel_id)
    if found is None:
        raise NotFound("No such channel.")
    return found


def get_channel(session: Session, member: TeamMember, channel_id: int) -> Channel:
    row = channel_row(session, member, channel_id)
    return channel_out(member, row, repository.reports_count(session, row.id))


def _check_form(session: Session, member: TeamMember, form_id: int | None) -> None:
    if form_id is not None and not repository.form_exists(session, member.organization_id, form_id):
        raise invalid(["channel", "form_id"], "No such form in this team.")


def create_channel(session: Session, member: TeamMember, data: ChannelCreate) -> Channel:
    _check_form(session, member, data.form_id)
    row = ChannelRow(
        organization_id=member.organization_id,
        name=data.name,
        description=data.description,
        form_id=data.form_id,
    )
    session.add(row)
    session.flush()
    return channel_out(member, row, 0)


def update_channel(
    session: Session, member: TeamMember, channel_id: int, data: ChannelUpdate
) -> None:
    row = channel_row(session, member, channel_id)
    changes = data.provided()
    refuse_nulls(changes, ("name",), "channel")
    if "form_id" in changes:
        _check_form(session, member, changes["form_id"])
    for name, value in changes.items():
        setattr(row, name, value)
    session.flush()


def delete_channel(session: Session, member: TeamMember, channel_id: int) -> None:
    """Deletes the channel with its states, reports, their reads, alerts and images."""
    session.delete(channel_row(session, member, channel_id))
    session.flush()


def state_out(row: ReportStateRow) -> ReportState:
    return ReportState(
        id=row.id,
        account_id=row.channel_id,
        name=row.name,
        position=row.position,
        updated_at=row.updated_at,
    )


def create_state(session: Session, member: TeamMember, data: ReportStateCreate) -> ReportState:
    if repository.channel(session, member.organization_id, data.account_id) is None:
        raise invalid(["report_state", "account_id"], "No such channel in this team.")
    row = ReportStateRow(
        organization_id=member.organization_id,
        channel_id=data.account_id,
        name=data.name,
        position=data.position,
    )
    session.add(row)
    session.flush()
    return state_out(row)


def list_states(
    session: Session,
    member: TeamMember,
    channel_id: int | None,
    page: ObjectRange,
    listed: ListFilter = EVERY,
) -> tuple[list[ReportState], int]:
    if channel_id is not None:
        channel_row(session, member, channel_id)  # another team's channel is 404
    rows, total = repository.states_page(session, member.organization_id, channel_id, page, listed)
    return [state_out(row) for row in rows], total


def get_state(session: Session, member: TeamMember, state_id: int) -> ReportState:
    row = repository.state(session, member.organization_id, state_id)
    if row is None:
        raise NotFound("No such report state.")
    return state_out(row)
