"""All SQL of reports and reads, scoped to the organisation in the query."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, cast
from uuid import UUID

from sqlalchemy import (
    Integer,
    Select,
    Table,
    Uuid,
    and_,
    bindparam,
    delete,
    func,
    insert,
    select,
    true,
)
from sqlalchemy import cast as cast_to
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.dml import Insert
from sqlalchemy.sql.selectable import Exists, TableValuedAlias

from tallybook.saferme.models import (
    Channel,
    Report,
    ReportImage,
    ReportRead,
    ReportSelection,
    ReportState,
)
from tallybook.saferme.ranges import ObjectRange, fetch_page


@dataclass(frozen=True)
class ReportRow:
    """A report with what its summary shows of its channel and state."""

    report: Report
    channel_name: str
    channel_uuid: UUID
    state_name: str | None


def _with_names() -> Select[Any]:
    stmt: Any
    stmt = (
        select(Report, Channel.name, Channel.uuid, ReportState.name)
        .join(Channel, Channel.id == Report.channel_id)
        .outerjoin(ReportState, ReportState.id == Report.report_state_id)
    )
    return stmt  # type: ignore[no-any-return]


def report_row(session: Session, organization_id: UUID, report_id: int) -> ReportRow | None:
    row = session.execute(
        _with_names().where(Report.organization_id == organization_id, Report.id == report_id)
    ).first()
    return ReportRow(row[0], row[1], row[2], row[3]) if row else None


def report(session: Session, organization_id: UUID, report_id: int) -> Report | None:
    return session.scalar(
        select(Report).where(Report.organization_id == organization_id, Report.id == report_id)
    )


@dataclass(frozen=True)
class Destination:
    """Where a new report goes: its channel, and the state it starts in (None when the
    channel has no such state), with what the report's summary shows of them."""

    channel_id: int
    channel_name: str
    channel_uuid: UUID
    form_id: int | None
    state_id: int | None
    state_name: str | None


def _destination(*, by_uuid: bool, first_state: bool) -> Select[Any]:
    """The channel (by id or uuid) of the organisation, and its state: the one given, or
    its first by position and id. Built once per form (see :func:`destination`)."""
    # Typed here: built at import, when the columns' type may not yet have come from their
    # foreign key, and SQLite would be handed a bare UUID.
    organization: Any = bindparam("organization_id", type_=Uuid())
    earliest = aliased(ReportState)  # the subquery's own, not the joined state
    first = (
        select(earliest.id)
        .where(earliest.channel_id == Channel.id, earliest.organization_id == organization)
        .order_by(earliest.position, earliest.id)
        .limit(1)
        .correlate(Channel)
        .scalar_subquery()
    )
    state = and_(
        ReportState.channel_id == Channel.id,
        ReportState.organization_id == organization,
        ReportState.id == (first if first_state else bindparam("state_id")),
    )
    channel = Channel.uuid if by_uuid else Channel.id
    stmt: Any = (
        select(
            Channel.id,
            Channel.name,
            Channel.uuid,
            Channel.form_id,
            ReportState.id,
            ReportState.name,
        )
        .select_from(Channel)
        .outerjoin(ReportState, state)
        .where(Channel.organization_id == organization, channel == bindparam("channel"))
    )
    return stmt  # type: ignore[no-any-return]


_DESTINATIONS = {
    (by_uuid, first): _destination(by_uuid=by_uuid, first_state=first)
    for by_uuid in (False, True)
    for first in (False, True)
}


def destination(
    session: Session, organization_id: UUID, channel: int | UUID, state_id: int | None
) -> Destination | None:
    """The channel ``channel`` (an id or a uuid) of the organisation, or None, with the
    state ``state_id`` of that channel, or the channel's first state when ``state_id`` is
    None: one statement where two ORM loads were a sixth of a report's creation."""
    params: dict[str, Any] = {"organization_id": organization_id, "channel": channel}
    if state_id is not None:
        params["state_id"] = state_id
    stmt = _DESTINATIONS[(not isinstance(channel, int), state_id is None)]
    row = session.connection().execute(stmt, params).first()
    return Destination(*row) if row else None


def uuid_taken(session: Session, organization_id: UUID, uuid: UUID) -> bool:
    found = session.scalar(
        select(Report.id).where(Report.organization_id == organization_id, Report.uuid == uuid)
    )
    return found is not None


def channels_of_team(session: Session, organization_id: UUID, ids: Sequence[int]) -> set[int]:
    return set(
        session.scalars(
            select(Channel.id).where(
                Channel.organization_id == organization_id, Channel.id.in_(ids)
            )
        )
    )


_REPORTS = cast(Table, Report.__table__)
_SELECTIONS = cast(Table, ReportSelection.__table__)
_IMAGES = cast(Table, ReportImage.__table__)
_REPORT_COLUMNS = tuple(c.name for c in _REPORTS.columns if c.name != "id")
# Built once: the statements' compiled forms are cached, and Core statements on the
# tables skip the ORM's bulk-insert bookkeeping (a third of a report creation's own CPU).
# They run on the session's connection (its transaction), not through ``session.execute``,
# whose ORM layer cost a report 0.1 ms over the three statements (docs/performance.md).
_INSERT_SELECTIONS = insert(_SELECTIONS)
_INSERT_IMAGES = insert(_IMAGES)


def _still_there(first_state: bool) -> Exists:
    """The destination bound as ``known_*`` is the channel's as it is now: the channel
    ``channel`` of the team, with that uuid, name and form, and the state (the one
    ``state_id``, or the channel's first) with that id and name, or none of either."""
    found = _destination(by_uuid=False, first_state=first_state).where(
        Channel.uuid == bindparam("known_channel_uuid", type_=Uuid()),
        Channel.name == bindparam("known_channel_name"),
        Channel.form_id.is_not_distinct_from(bindparam("known_form_id", type_=Integer())),
        ReportState.id.is_not_distinct_from(bindparam("known_state_id", type_=Integer())),
        ReportState.name.is_not_distinct_from(bindparam("known_state_name")),
    )
    return found.exists()


def _insert_report(dialect: str, first_state: bool) -> Insert:
    """The report's row, inserted only if its destination is still as bound (see
    :func:`_still_there`) and no report of the team has its uuid; returns its id. The
    values are selected rather than listed (``VALUES`` takes no condition): PostgreSQL
    infers no type for a parameter in a select list, so there each is cast to its
    column's."""
    values: list[Any] = []
    for name in _REPORT_COLUMNS:
        value = bindparam(name, type_=_REPORTS.c[name].type)
        values.append(cast_to(value, _REPORTS.c[name].type) if dialect == "postgresql" else value)
    taken = select(_REPORTS.c.id).where(
        _REPORTS.c.organization_id == bindparam("organization_id"),
        _REPORTS.c.uuid == bindparam("uuid"),
    )
    row = select(*values).where(_still_there(first_state), ~taken.exists())
    return insert(_REPORTS).from_select(list(_REPORT_COLUMNS), row)


def _pairs(name: str, first: str, second: str) -> TableValuedAlias:
    """The rows of two integer arrays bound as ``<name>_<first>s`` and ``<name>_<second>s``,
    side by side (PostgreSQL's ``unnest`` of two arrays), numbered from 1 in ``position``
    so that they are inserted, and given their ids, in the order of the lists."""
    arrays = (bindparam(f"{name}_{column}s", type_=ARRAY(Integer)) for column in (first, second))
    pairs = func.unnest(*arrays).table_valued(first, second, with_ordinality="position")
    return pairs.render_derived(name=name)


def _insert_whole(first_state: bool) -> Select[Any]:
    """A new report, its selections and its images in one PostgreSQL statement: the
    derived rows are inserted in CTEs from the report's row as it was inserted (none when
    the report was not)."""
    report = (
        _insert_report("postgresql", first_state)
        .returning(*(_REPORTS.c[c] for c in ("id", "organization_id", "channel_id", "created_at")))
        .cte("new_report")
    )
    options = _pairs("selection", "field", "option")
    attachments = _pairs("image", "field", "attachment")
    selections = insert(_SELECTIONS).from_select(
        ["report_id", "field_id", "option_id", "channel_id", "created_at"],
        select(
            report.c.id, options.c.field, options.c.option, report.c.channel_id, report.c.created_at
        )
        .select_from(report.join(options, true()))
        .order_by(options.c.position),
    )
    images = insert(_IMAGES).from_select(
        ["organization_id", "report_id", "field_id", "attachment_id", "channel_id", "created_at"],
        select(
            report.c.organization_id,
            report.c.id,
            attachments.c.field,
            attachments.c.attachment,
            report.c.channel_id,
            report.c.created_at,
        )
        .select_from(report.join(attachments, true()))
        .order_by(attachments.c.position),
    )
    return select(report.c.id).add_cte(selections.cte("new_selections"), images.cte("new_images"))


@cache
def _insert_new(dialect: str, first_state: bool) -> Executable:
    """The statement of :func:`insert_new_report`, built at its first use: at import, the
    type of a column that is a foreign key may not yet have come from the column it refers
    to, and a cast needs it."""
    if dialect == "postgresql":
        return _insert_whole(first_state)
    return _insert_report(dialect, first_state).returning(_REPORTS.c.id)


def insert_new_report(
    session: Session,
    report: Report,
    to: Destination,
    first_state: bool,
    selections: list[tuple[int, int]],
    attachments: list[tuple[int, int]],
) -> int | None:
    """Inserts a new report made in memory (not added to the session), without the unit of
    work's bookkeeping of a flush, with its selection and image rows; returns its id, or
    None when nothing was inserted: ``to`` (the report's channel and state, the first of
    the channel's states if ``first_state``) is no longer the channel's as it is now, or a
    report of the team has the report's uuid. The report goes to ``to``'s channel and
    state, which the caller may have read in an earlier transaction, or in another request
    (the check makes that safe). On PostgreSQL that is one statement, where three were
    three round trips (a fifth of the API's CPU per report, and a tenth of the server's:
    docs/performance.md); SQLite, in process, has no round trips to save and runs three."""
    values: dict[str, Any] = {name: getattr(report, name) for name in _REPORT_COLUMNS}
    values |= {
        "channel": to.channel_id,
        "known_channel_uuid": to.channel_uuid,
        "known_channel_name": to.channel_name,
        "known_form_id": to.form_id,
        "known_state_id": to.state_id,
        "known_state_name": to.state_name,
    }
    if not first_state:
        values["state_id"] = to.state_id
    connection = session.connection()
    whole = connection.dialect.name == "postgresql"  # the derived rows in the same statement
    if whole:
        values["selection_fields"] = [field for field, _option in selections]
        values["selection_options"] = [option for _field, option in selections]
        values["image_fields"] = [field for field, _attachment in attachments]
        values["image_attachments"] = [attachment for _field, attachment in attachments]
    statement = _insert_new(connection.dialect.name, first_state)
    report_id = connection.execute(statement, values).scalar()
    if report_id is None:
        return None
    if not whole:
        report.id = report_id
        replace_derived(session, report, selections, attachments, new=True)
    return int(report_id)


def replace_derived(
    session: Session,
    report: Report,
    selections: list[tuple[int, int]],
    attachments: list[tuple[int, int]],
    *,
    new: bool = False,
) -> None:
    """The report's selection and image rows, made from its values (a ``new`` report has
    none yet). Selections are made anew; an image that stays where it was (the same
    attachment in the same field) keeps its row, and so its id (the analytics'
    ``report_image_id``), whatever else of the report changed."""
    if not new:
        session.execute(delete(ReportSelection).where(ReportSelection.report_id == report.id))
        placed = select(ReportImage.id, ReportImage.field_id, ReportImage.attachment_id).where(
            ReportImage.report_id == report.id
        )
        kept = {(f, a): image for image, f, a in session.execute(placed)}
        wanted = set(attachments)
        moved = [image for place, image in kept.items() if place not in wanted]
        if moved:
            session.execute(delete(ReportImage).where(ReportImage.id.in_(moved)))
        attachments = [place for place in attachments if place not in kept]
    common = {"channel_id": report.channel_id, "created_at": report.created_at}
    if selections:
        session.connection().execute(
            _INSERT_SELECTIONS,
            [
                {"report_id": report.id, "field_id": f, "option_id": o, **common}
                for f, o in selections
            ],
        )
    if attachments:
        session.connection().execute(
            _INSERT_IMAGES,
            [
                {
                    "organization_id": report.organization_id,
                    "report_id": report.id,
                    "field_id": f,
                    "attachment_id": a,
                    **common,
                }
                for f, a in attachments
            ],
        )


@dataclass(frozen=True)
class SearchFilter:
    channel_ids: list[int] | None = None
    state_ids: list[int] | None = None
    user_number: int | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    updated_after: datetime | None = None
    updated_before: datetime | None = None


ORDERABLE = {"created_at": Report.created_at, "updated_at": Report.updated_at, "id": Report.id}


def search(
    session: Session,
    organization_id: UUID,
    where: SearchFilter,
    order: Sequence[Any],
    page: ObjectRange,
) -> tuple[list[ReportRow], int]:
    stmt = _with_names().where(Report.organization_id == organization_id)
    if where.channel_ids is not None:
        stmt = stmt.where(Report.channel_id.in_(where.channel_ids))
    if where.state_ids is not None:
        stmt = stmt.where(Report.report_state_id.in_(where.state_ids))
    if where.user_number is not None:  # an anonymous report names its reporter nowhere
        stmt = stmt.where(
            Report.user_number == where.user_number,
            Report.is_anonymous == False,  # noqa: E712 (SQL, not Python)
        )
    for column, bound, after in (
        (Report.created_at, where.created_after, True),
        (Report.created_at, where.created_before, False),
        (Report.updated_at, where.updated_after, True),
        (Report.updated_at, where.updated_before, False),
    ):
        if bound is not None:
            stmt = stmt.where(column > bound if after else column < bound)
    rows, total = fetch_page(session, stmt, order, page)
    return [ReportRow(row[0], row[1], row[2], row[3]) for row in rows], total


def add_read(session: Session, report: Report, user_number: int, at: datetime) -> ReportRead:
    read = ReportRead(
        organization_id=report.organization_id,
        report_id=report.id,
        user_number=user_number,
        channel_id=report.channel_id,
        created_at=at,
    )
    session.add(read)
    session.flush()
    return read
