"""Reports: creating one from a SaferMe body, reading, changing its state and values,
searching; recording reads."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tallybook.kit.db import utcnow
from tallybook.kit.errors import BadRequest, InvalidPayload, NotFound, invalid
from tallybook.kit.memory import PerDatabase
from tallybook.saferme.auth import TeamMember
from tallybook.saferme.channels import repository as channels
from tallybook.saferme.files import repository as files
from tallybook.saferme.files.service import attachment_out
from tallybook.saferme.forms import repository as forms
from tallybook.saferme.forms.repository import FieldDef
from tallybook.saferme.forms.service import field_data
from tallybook.saferme.models import Report as ReportRowModel
from tallybook.saferme.models import ReportState as ReportStateRow
from tallybook.saferme.ranges import ObjectRange
from tallybook.saferme.reports import repository, values
from tallybook.saferme.reports.repository import ReportRow, SearchFilter
from tallybook.saferme.reports.schemas import (
    Location,
    ReadCreate,
    Report,
    ReportCreate,
    ReportFormField,
    ReportRead,
    ReportSummary,
    ReportUpdate,
)
from tallybook.saferme.types import ATTACHMENT_TYPES

FUTURE_ALLOWANCE = timedelta(hours=24)
"""How far ahead a client's clock may be: a later ``created_at`` is refused."""

_POINT = re.compile(
    r"^\s*point\s*\(\s*([-+]?\d+(?:\.\d+)?)\s+([-+]?\d+(?:\.\d+)?)\s*\)\s*$", re.IGNORECASE
)
FORM_FIELDS_LOC: list[str | int] = ["body", "report", "form_fields"]
NO_SUCH_STATE = "No such report state in this channel."


def parse_geom(geom: str | None) -> tuple[float | None, float | None]:
    """(latitude, longitude) of a WKT ``Point(<longitude> <latitude>)``."""
    if geom is None:
        return None, None
    match = _POINT.match(geom)
    if match is None:
        raise invalid(["report", "geom"], "must be a WKT point: Point(<longitude> <latitude>)")
    longitude, latitude = float(match.group(1)), float(match.group(2))
    if not (-180 <= longitude <= 180 and -90 <= latitude <= 90):
        raise invalid(["report", "geom"], "longitude must be in [-180, 180], latitude in [-90, 90]")
    return latitude, longitude


def _not_ahead(at: datetime, loc: list[str | int]) -> None:
    if at > utcnow() + FUTURE_ALLOWANCE:
        raise invalid(loc, "may be at most 24 hours in the future")


def summary_out(row: ReportRow) -> ReportSummary:
    report = row.report
    location = (
        Location(latitude=report.latitude, longitude=report.longitude)
        if report.latitude is not None and report.longitude is not None
        else None
    )
    return ReportSummary(
        id=report.id,
        uuid=report.uuid,
        account_id=report.channel_id,
        account_uuid=row.channel_uuid,
        account_name=row.channel_name,
        address=report.address,
        is_anonymous=report.is_anonymous,
        location=location,
        report_state_id=report.report_state_id,
        report_state_name=row.state_name,
        title=row.channel_name,
        user_id=None if report.is_anonymous else report.user_number,
        iso_created_at=report.created_at,
        created_at=report.created_at,
        updated_at=report.updated_at,
    )


def _destination(
    session: Session, member: TeamMember, account: int | UUID, state_id: int | None
) -> repository.Destination:
    """The new report's channel and state, checked in that order."""
    found = repository.destination(session, member.organization_id, account, state_id)
    if found is None:
        raise invalid(["report", "account_id"], "No such channel in this team.")
    if state_id is not None and found.state_id is None:
        raise invalid(["report", "report_state_id"], NO_SUCH_STATE)
    return found


def _check_state(
    session: Session, member: TeamMember, channel_id: int, state_id: int
) -> ReportStateRow:
    state = channels.state(session, member.organization_id, state_id)
    if state is None or state.channel_id != channel_id:
        raise invalid(["report", "report_state_id"], NO_SUCH_STATE)
    return state


def _fields_of(session: Session, member: TeamMember, form_id: int | None) -> list[FieldDef]:
    if form_id is None:
        return []
    return forms.field_defs(session, member.organization_id, [form_id]).get(form_id, [])


def _checked(
    session: Session,
    member: TeamMember,
    fields: list[FieldDef],
    given: list[Any],
    existing: dict[str, Any] | None,
    report_id: int | None,
) -> values.CheckedValues:
    checked = values.check(fields, given, FORM_FIELDS_LOC, existing)
    if checked.attachments and not checked.errors:
        ids = [a for _f, a in checked.attachments]
        known = set(files.attachments(session, member.organization_id, ids))
        placed = files.placed(session, ids)
        checked.errors.extend(
            values.attachment_errors(checked.attachments, known, placed, report_id)
        )
    if checked.errors:
        raise InvalidPayload(checked.errors)
    return checked


# Where each channel's last report went (its channel and state, by team, the channel as
# the client named it and the state it asked for), per database and for the process's life:
# a report's creation then skips the query of its destination. Another process may change
# the channel meanwhile, so the insert checks the destination again (see create_report).
_DESTINATIONS: PerDatabase[tuple[UUID, int | UUID, int | None], repository.Destination] = (
    PerDatabase()
)
SAME_TIME = "Another report with this uuid or these attachments was made at the same time."
CHANGED = "The report's channel kept changing while the report was made; send it again."


ATTEMPTS = 3
"""How many times a report is made from a fresh read of its destination while another
request keeps changing that destination under it, before a 400."""


def create_report(session: Session, member: TeamMember, data: ReportCreate) -> ReportSummary:
    """Every check comes before the only write, so a 400 leaves nothing behind. The write
    is one statement: the endpoint runs the unit with ``one_write`` (on PostgreSQL, in
    autocommit).

    The destination of the channel's last report is tried first: the report is checked
    against that channel's form, and the insert is made only if the channel, its form and
    the state are still as remembered (one statement, see
    :func:`repository.insert_new_report`). Otherwise, or when a check fails, the report is
    made as if nothing was remembered: the destination is read, and any 400 is the one its
    checks give in their order. If the destination changes again between that read and
    the insert (another request renamed the channel, say), it is read again."""
    key = (member.organization_id, data.account_id, data.report_state_id)
    remembered = _DESTINATIONS.get(session, key)
    if remembered is not None:
        try:
            new = _new_report(session, member, data, remembered, check_uuid=False)
        except BadRequest:  # maybe against a form the channel no longer has: see below
            new = None
        if new is not None and (made := _insert(session, data, remembered, *new)) is not None:
            return made
    for _attempt in range(ATTEMPTS):
        to = _destination(session, member, data.account_id, data.report_state_id)
        new = _new_report(session, member, data, to, check_uuid=True)
        if (made := _insert(session, data, to, *new)) is not None:
            _DESTINATIONS.put(session, key, to)
            return made
        # the channel changed, or the uuid was taken, since they were read: read again
    raise BadRequest(CHANGED)


def _new_report(
    session: Session,
    member: TeamMember,
    data: ReportCreate,
    to: repository.Destination,
    *,
    check_uuid: bool,
) -> tuple[ReportRowModel, values.CheckedValues]:
    """The new report's row, checked (the form against ``to``'s form), not yet inserted."""
    latitude, longitude = parse_geom(data.geom)
    created_at = data.created_at or utcnow()
    _not_ahead(created_at, ["report", "created_at"])
    if (
        check_uuid
        and data.uuid is not None
        and repository.uuid_taken(session, member.organization_id, data.uuid)
    ):
        raise invalid(["report", "uuid"], "A report with this uuid exists in the team already.")
    fields = _fields_of(session, member, to.form_id)
    checked = _checked(session, member, fields, data.form_fields, None, None)
    row = ReportRowModel(
        uuid=data.uuid or uuid4(),
        organization_id=member.organization_id,
        channel_id=to.channel_id,
        report_state_id=to.state_id,
        user_number=member.user_number,
        address=data.address,
        latitude=latitude,
        longitude=longitude,
        is_anonymous=data.is_anonymous,
        form_values=checked.values,
        created_at=created_at,
        updated_at=created_at,
    )
    return row, checked


def _insert(
    session: Session,
    data: ReportCreate,
    to: repository.Destination,
    row: ReportRowModel,
    checked: values.CheckedValues,
) -> ReportSummary | None:
    """The report inserted, as the answer shows it; None when ``to`` is not the channel's
    destination as it is now, or the uuid is taken."""
    first_state = data.report_state_id is None
    try:
        made = repository.insert_new_report(
            session, row, to, first_state, checked.selections, checked.attachments
        )
    except IntegrityError:  # a report with the same uuid or attachment, made at the same time
        raise BadRequest(SAME_TIME) from None
    if made is None:
        return None
    row.id = made
    return summary_out(ReportRow(row, to.channel_name, to.channel_uuid, to.state_name))


def _report_row(session: Session, member: TeamMember, report_id: int) -> ReportRow:
    found = repository.report_row(session, member.organization_id, report_id)
    if found is None:
        raise NotFound("No such report.")
    return found


def get_report(session: Session, member: TeamMember, base_url: str, report_id: int) -> Report:
    found = _report_row(session, member, report_id)
    channel = channels.channel(session, member.organization_id, found.report.channel_id)
    assert channel is not None
    fields = _fields_of(session, member, channel.form_id)
    stored = found.report.form_values or {}
    ids = [
        a
        for f in fields
        if f.row.field_type in ATTACHMENT_TYPES
        for a in stored.get(f.row.key) or []
    ]
    attached = files.attachments(session, member.organization_id, ids)
    form_fields = []
    for f in fields:
        value = stored.get(f.row.key)
        if f.row.field_type in ATTACHMENT_TYPES and value is not None:
            value = [
                attachment_out(base_url, attached[a]).model_dump(mode="json")
                for a in value
                if a in attached
            ]
        form_fields.append(
            ReportFormField(
                id=f.row.id,
                label=f.row.label,
                key=f.row.key,
                field_type=f.row.field_type,
                form_order=f.row.form_order,
                data=field_data(f) or {},
                mandatory=f.row.mandatory,
                value=value,
            )
        )
    return Report(**summary_out(found).model_dump(), form_fields=form_fields)


def update_report(session: Session, member: TeamMember, report_id: int, data: ReportUpdate) -> None:
    row = repository.report(session, member.organization_id, report_id)
    if row is None:
        raise NotFound("No such report.")
    changes = data.provided()
    if changes.get("report_state_id") is not None:
        _check_state(session, member, row.channel_id, changes["report_state_id"])
    if "geom" in changes:
        row.latitude, row.longitude = parse_geom(changes["geom"])
    if data.form_fields is not None:
        channel = channels.channel(session, member.organization_id, row.channel_id)
        assert channel is not None
        fields = _fields_of(session, member, channel.form_id)
        checked = _checked(session, member, fields, data.form_fields, row.form_values, row.id)
        row.form_values = checked.values
        try:
            repository.replace_derived(session, row, checked.selections, checked.attachments)
        except IntegrityError:  # an attachment placed by another request at the same time
            raise BadRequest("These attachments were placed in another report meanwhile.") from None
    if "report_state_id" in changes:
        row.report_state_id = changes["report_state_id"]
    if "address" in changes:
        row.address = changes["address"]
    row.updated_at = utcnow()
    session.flush()


ORDER_DIRECTIONS = ("asc", "desc")
ORDERABLE_NAMES = tuple(repository.ORDERABLE)


def parse_orderby(raw: str | None) -> list[Any]:
    """``<field> <direction>`` clauses, comma-separated; the id breaks ties."""
    order: list[Any] = []
    for clause in (raw or "created_at desc").split(","):
        parts = clause.split(" ")
        if (
            len(parts) != 2
            or parts[0] not in repository.ORDERABLE
            or parts[1] not in ORDER_DIRECTIONS
        ):
            names = ", ".join(repository.ORDERABLE)
            raise InvalidPayload(
                [{"loc": ["query", "orderby"], "msg": f"must be '<field> asc|desc' with {names}"}]
            )
        column = repository.ORDERABLE[parts[0]]
        order.append(column.asc() if parts[1] == "asc" else column.desc())
    order.append(ReportRowModel.id.desc())
    return order


def search(
    session: Session,
    member: TeamMember,
    where: SearchFilter,
    orderby: str | None,
    page: ObjectRange,
) -> tuple[list[ReportSummary], int]:
    """The team's reports that match; a channel id that is not the team's is 404."""
    order = parse_orderby(orderby)
    if where.channel_ids:
        found = repository.channels_of_team(session, member.organization_id, where.channel_ids)
        if found != set(where.channel_ids):
            raise NotFound("No such channel.")
    rows, total = repository.search(session, member.organization_id, where, order, page)
    return [summary_out(row) for row in rows], total


def create_read(
    session: Session, member: TeamMember, report_id: int, data: ReadCreate | None
) -> ReportRead:
    report = repository.report(session, member.organization_id, report_id)
    if report is None:
        raise NotFound("No such report.")
    at = (data.created_at if data else None) or max(utcnow(), report.created_at)
    _not_ahead(at, ["report_read", "created_at"])
    if at < report.created_at:
        raise invalid(["report_read", "created_at"], "may not be before the report was made")
    read = repository.add_read(session, report, member.user_number, at)
    return ReportRead(
        id=read.id,
        report_id=report.id,
        account_id=report.channel_id,
        user_id=member.user_number,
        created_at=read.created_at,
    )
