"""All SQL of the analytics: each answer is one statement, counted in the store.

Every statement names the channel through :func:`_channel`, a subquery that finds it only
in the caller's organisation, so the counts are scoped to the team in the query itself;
and each reads one range of one index led by ``(channel_id, created_at)`` (the rows
counted carry their channel, see ``saferme/models.py``). Counts are of a column of that
index, so PostgreSQL answers from the index alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise
from typing import Any
from uuid import UUID

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    and_,
    case,
    column,
    func,
    select,
    true,
    values,
)
from sqlalchemy.orm import Session

from tallybook.kit.db import UTCDateTime
from tallybook.organizations.models import User
from tallybook.saferme.analytics.buckets import OffsetPeriod
from tallybook.saferme.analytics.schemas import AwarenessField, ReadField
from tallybook.saferme.analytics.sql import epoch_seconds
from tallybook.saferme.models import (
    Alert,
    Channel,
    FieldOption,
    FormField,
    Report,
    ReportImage,
    ReportRead,
    ReportSelection,
    ReportState,
)

SHIFT = 28 * 86_400
"""Added to every local instant so it stays positive (integer division and ``%`` then
floor on both stores); four weeks, so that weekdays count from 1970-01-01 still."""

THURSDAY = 4
"""1970-01-01 was a Thursday (0 is Sunday)."""


@dataclass(frozen=True)
class Window:
    """A channel of an organisation, and ``[start, end)``."""

    organization_id: UUID
    channel_id: int
    start: datetime
    end: datetime


def _channel(window: Window) -> ColumnElement[int]:
    """The channel's id, found only in the caller's organisation (else NULL: no rows)."""
    return (
        select(Channel.id)
        .where(Channel.id == window.channel_id, Channel.organization_id == window.organization_id)
        .scalar_subquery()
    )


def _in(created_at: Any, window: Window) -> ColumnElement[bool]:
    return and_(created_at >= window.start, created_at < window.end)


def field(session: Session, organization_id: UUID, field_id: int) -> FormField | None:
    return session.scalar(
        select(FormField).where(
            FormField.organization_id == organization_id, FormField.id == field_id
        )
    )


def reports_over_time(
    session: Session, window: Window, bounds: Sequence[datetime]
) -> list[tuple[datetime, int]]:
    """``(bucket start, reports)`` for each bucket ``[bounds[i], bounds[i + 1])``, empty
    ones included: the buckets are a table of the statement, joined to the reports."""
    buckets = (
        values(column("lo", UTCDateTime()), column("hi", UTCDateTime()), name="buckets")
        .data(list(pairwise(bounds)))
        .cte("buckets")
    )
    counted = (
        select(buckets.c.lo, func.count(Report.created_at))
        .select_from(buckets)
        .outerjoin(
            Report,
            and_(
                Report.channel_id == _channel(window),
                Report.created_at >= buckets.c.lo,
                Report.created_at < buckets.c.hi,
                _in(Report.created_at, window),
            ),
        )
        .group_by(buckets.c.lo)
        .order_by(buckets.c.lo)
    )
    return [(row[0], int(row[1])) for row in session.execute(counted)]


def reports_per_state(session: Session, window: Window) -> list[tuple[int, str, int]]:
    """``(state id, name, reports)`` for every state of the channel, by position."""
    counts = (
        select(Report.report_state_id.label("state_id"), func.count().label("n"))
        .where(Report.channel_id == _channel(window), _in(Report.created_at, window))
        .group_by(Report.report_state_id)
        .subquery("counts")
    )
    stmt = (
        select(ReportState.id, ReportState.name, func.coalesce(counts.c.n, 0))
        .outerjoin(counts, counts.c.state_id == ReportState.id)
        .where(ReportState.channel_id == _channel(window))
        .order_by(ReportState.position, ReportState.id)
    )
    return [(row[0], row[1], int(row[2])) for row in session.execute(stmt)]


def reports_per_user(session: Session, window: Window) -> list[tuple[int, int]]:
    """``(user number, reports)`` of each user with a report, most reports first. An
    anonymous report is nobody's."""
    count = func.count().label("n")
    stmt = (
        select(Report.user_number, count)
        .where(
            Report.channel_id == _channel(window),
            _in(Report.created_at, window),
            Report.user_number.is_not(None),
            Report.is_anonymous == False,  # noqa: E712 (SQL, not Python)
        )
        .group_by(Report.user_number)
        .order_by(count.desc(), Report.user_number)
    )
    return [(number, int(count)) for number, count in session.execute(stmt) if number is not None]


def reports_per_field_selection(
    session: Session, window: Window, field_id: int
) -> list[tuple[str, str, int]]:
    """``(label, value, reports)`` for every option of the field, in display order."""
    counts = (
        select(ReportSelection.option_id, func.count().label("n"))
        .where(
            ReportSelection.field_id == field_id,
            ReportSelection.channel_id == _channel(window),
            _in(ReportSelection.created_at, window),
        )
        .group_by(ReportSelection.option_id)
        .subquery("counts")
    )
    team_field = (
        select(FormField.id)
        .where(FormField.id == field_id, FormField.organization_id == window.organization_id)
        .scalar_subquery()
    )
    stmt = (
        select(FieldOption.label, FieldOption.value, func.coalesce(counts.c.n, 0))
        .outerjoin(counts, counts.c.option_id == FieldOption.id)
        .where(FieldOption.field_id == team_field)
        .order_by(FieldOption.display_order, FieldOption.id)
    )
    return [(row[0], row[1], int(row[2])) for row in session.execute(stmt)]


def _local_seconds(periods: Sequence[OffsetPeriod], window: Window, unit: int) -> Select[Any]:
    """Each report's local time, in whole ``unit``s since 1970 (plus :data:`SHIFT`): the
    report's instant plus the UTC offset of its period (the periods cover the window)."""
    table = (
        values(
            column("lo", UTCDateTime()),
            column("hi", UTCDateTime()),
            column("shift", Integer()),
            name="periods",
        )
        .data([(p.start, p.end, p.offset + SHIFT) for p in periods])
        .cte("periods")
    )
    local = (epoch_seconds(Report.created_at) + table.c.shift) // unit
    return (
        select(local.label("units"))
        .select_from(table)
        .join(
            Report,
            and_(
                Report.channel_id == _channel(window),
                Report.created_at >= table.c.lo,
                Report.created_at < table.c.hi,
            ),
        )
    )


def _cyclic(session: Session, local: Select[Any], size: int, phase: int) -> list[tuple[int, int]]:
    """``(slot, reports)`` for every slot ``0 … size - 1`` of ``(units + phase) % size``."""
    units = local.subquery("local")
    slot = (units.c.units + phase) % size
    counts = select(slot.label("slot"), func.count().label("n")).group_by(slot).subquery("counts")
    slots = values(column("slot", Integer()), name="slots").data([(i,) for i in range(size)])
    every = slots.cte("slots")
    stmt = (
        select(every.c.slot, func.coalesce(counts.c.n, 0))
        .select_from(every)
        .outerjoin(counts, counts.c.slot == every.c.slot)
        .order_by(every.c.slot)
    )
    return [(int(row[0]), int(row[1])) for row in session.execute(stmt)]


def reports_per_day_hour(
    session: Session, window: Window, periods: Sequence[OffsetPeriod]
) -> list[tuple[int, int]]:
    """``(hour, reports)`` for the 24 local hours."""
    return _cyclic(session, _local_seconds(periods, window, 3600), 24, 0)


def reports_per_week_day(
    session: Session, window: Window, periods: Sequence[OffsetPeriod]
) -> list[tuple[int, int]]:
    """``(weekday, reports)`` for the 7 local weekdays, 0 Sunday."""
    return _cyclic(session, _local_seconds(periods, window, 86_400), 7, THURSDAY)


def reports_read(session: Session, window: Window, fields: Sequence[ReadField]) -> dict[str, int]:
    """The requested counts of the reads made in the window, of the channel's reports."""
    in_window = (ReportRead.channel_id == _channel(window), _in(ReportRead.created_at, window))
    columns: dict[str, Any]
    if ReadField.UNIQUE_READS in fields:
        pairs = (
            select(ReportRead.user_number, ReportRead.report_id, func.count().label("n"))
            .where(*in_window)
            .group_by(ReportRead.user_number, ReportRead.report_id)
            .subquery("pairs")
        )
        columns = {
            ReadField.TOTAL_READS: func.coalesce(func.sum(pairs.c.n), 0),
            ReadField.UNIQUE_READS: func.count(),
            ReadField.REPORT_READERS: func.count(pairs.c.user_number.distinct()),
            ReadField.REPORTS_SEEN: func.count(pairs.c.report_id.distinct()),
        }
    else:
        columns = {
            ReadField.TOTAL_READS: func.count(),
            ReadField.REPORT_READERS: func.count(ReportRead.user_number.distinct()),
            ReadField.REPORTS_SEEN: func.count(ReportRead.report_id.distinct()),
        }
    wanted = [columns[f].label(f) for f in fields]
    if ReadField.UNIQUE_READS in fields:
        stmt = select(*wanted).select_from(pairs)
    else:
        stmt = select(*wanted).select_from(ReportRead).where(*in_window)
    row = session.execute(stmt).one()
    return {str(f): int(row[i]) for i, f in enumerate(fields)}


@dataclass(frozen=True)
class AwarenessCounts:
    user_number: int
    first_name: str
    last_name: str
    counts: dict[str, int]


def user_awareness(
    session: Session, window: Window, fields: Sequence[AwarenessField]
) -> list[AwarenessCounts]:
    """Per user alerted in the window (of the channel's reports), the requested counts;
    most alerts first."""
    pairs = (
        select(
            Alert.user_number,
            Alert.report_id,
            func.count().label("n"),
            func.sum(case((Alert.read == True, 1), else_=0)).label("opened"),  # noqa: E712
        )
        .where(Alert.channel_id == _channel(window), _in(Alert.created_at, window))
        .group_by(Alert.user_number, Alert.report_id)
        .subquery("pairs")
    )
    total = func.sum(pairs.c.n)
    columns: dict[AwarenessField, Any] = {
        AwarenessField.TOTAL_ALERTS: total,
        AwarenessField.ALERT_SOURCE_REPORTS: func.count(),
        AwarenessField.UNIQUE_ALERTS: func.count(),
        AwarenessField.ALERTS_OPENED: func.sum(pairs.c.opened),
    }
    per_user = (
        select(pairs.c.user_number, *(columns[f].label(f) for f in fields), total.label("_total"))
        .group_by(pairs.c.user_number)
        .subquery("per_user")
    )
    stmt = (
        select(User.number, User.first_name, User.last_name, *(per_user.c[f] for f in fields))
        .join(per_user, per_user.c.user_number == User.number)
        .where(User.organization_id == window.organization_id)
        .order_by(per_user.c._total.desc(), User.number)
    )
    return [
        AwarenessCounts(
            row[0], row[1] or "", row[2] or "", {f: int(row[3 + i]) for i, f in enumerate(fields)}
        )
        for row in session.execute(stmt)
    ]


@dataclass(frozen=True)
class ImageRow:
    report_image_id: int
    report_id: int
    attachment_id: int
    created_at: datetime


def reports_images(
    session: Session, window: Window, offset: int, limit: int
) -> tuple[list[ImageRow], int]:
    """A page of the images of the reports made in the window, newest first, and how
    many there are in all — one statement: the count, joined to the page."""
    where = (ReportImage.channel_id == _channel(window), _in(ReportImage.created_at, window))
    total = select(func.count().label("total")).where(*where).subquery("total")
    order = (ReportImage.created_at.desc(), ReportImage.id.desc())
    page = (
        select(
            ReportImage.id, ReportImage.report_id, ReportImage.attachment_id, ReportImage.created_at
        )
        .where(*where)
        .order_by(*order)
        .offset(offset)
        .limit(limit)
        .subquery("page")
    )
    stmt = (
        select(total.c.total, page.c.id, page.c.report_id, page.c.attachment_id, page.c.created_at)
        .select_from(total)
        .outerjoin(page, true())
        .order_by(page.c.created_at.desc(), page.c.id.desc())
    )
    rows = list(session.execute(stmt))
    images = [ImageRow(r[1], r[2], r[3], r[4]) for r in rows if r[1] is not None]
    return images, int(rows[0][0]) if rows else 0
