"""All SQL of the analytics: each answer is one statement, counted in the store.

Every statement names the channel through :func:`_channel`, a subquery that finds it only
in the caller's organisation, so the counts are scoped to the team in the query itself.

No statement sorts or hashes the rows it counts (SQLite has no hash aggregation, and a
year of a busy channel is half a million reports): each row of an answer — a state, a
user, an option, a time bucket — is ``count(*)`` over one range of an index, in a
correlated subquery, and distinct reads and alerts are counted as the rows whose previous
one (kept by triggers, see migration 0006) falls outside the scope. So a statement
costs one index step per row counted, and a seek per row of the answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise
from typing import Any
from uuid import UUID

from sqlalchemy import (
    CTE,
    ColumnElement,
    Integer,
    and_,
    column,
    func,
    literal,
    or_,
    select,
    true,
    values,
)
from sqlalchemy.orm import Session

from tallybook.kit.db import UTCDateTime
from tallybook.organizations.models import User
from tallybook.saferme.analytics.buckets import Cycle, SlotRun
from tallybook.saferme.analytics.schemas import AwarenessField, ReadField
from tallybook.saferme.analytics.sql import shifted
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


@dataclass(frozen=True)
class Scope:
    """What a statement counts in: a channel found in the caller's organisation, and the
    window ``[start, end)``."""

    organization_id: UUID
    channel_id: int
    start: datetime
    end: datetime


def _channel(scope: Scope) -> ColumnElement[int]:
    """The channel's id, found only in the caller's organisation (else NULL: no rows)."""
    return (
        select(Channel.id)
        .where(Channel.id == scope.channel_id, Channel.organization_id == scope.organization_id)
        .scalar_subquery()
    )


def _in(created_at: Any, scope: Scope) -> ColumnElement[bool]:
    return and_(created_at >= scope.start, created_at < scope.end)


def _first_in(previous: Any, scope: Scope) -> ColumnElement[bool]:
    """The row is the first of its kind in the window: its previous one is not in it (the
    previous one is never later than the row)."""
    return or_(previous.is_(None), previous < scope.start)


def _materialized(cte: CTE) -> CTE:
    """A CTE computed once (both stores honour ``MATERIALIZED``): its correlated counts are
    then not run again where the outer query filters or sorts on them."""
    return cte.prefix_with("MATERIALIZED")


def field(session: Session, organization_id: UUID, field_id: int) -> FormField | None:
    return session.scalar(
        select(FormField).where(
            FormField.organization_id == organization_id, FormField.id == field_id
        )
    )


def _reports_between(scope: Scope, low: Any, high: Any) -> Any:
    return (
        select(func.count())
        .select_from(Report)
        .where(
            Report.channel_id == _channel(scope),
            Report.created_at >= low,
            Report.created_at < high,
        )
        .scalar_subquery()
    )


def reports_over_time(
    session: Session, scope: Scope, bounds: Sequence[datetime]
) -> list[tuple[datetime, int]]:
    """``(bucket start, reports)`` for each bucket ``[bounds[i], bounds[i + 1])``, empty
    ones included; the first and last buckets count only what lies in the window."""
    clipped = [(max(low, scope.start), min(high, scope.end)) for low, high in pairwise(bounds)]
    buckets = (
        values(column("lo", UTCDateTime()), column("hi", UTCDateTime()), name="buckets")
        .data(clipped)
        .cte("buckets")
    )
    stmt = select(buckets.c.lo, _reports_between(scope, buckets.c.lo, buckets.c.hi)).order_by(
        buckets.c.lo
    )
    counts = [int(row[1]) for row in session.execute(stmt)]
    return list(zip(bounds, counts, strict=False))


def reports_per_state(session: Session, scope: Scope) -> list[tuple[int, str, int]]:
    """``(state id, name, reports)`` for every state of the channel, by position."""
    count = (
        select(func.count())
        .select_from(Report)
        .where(
            Report.channel_id == ReportState.channel_id,
            Report.report_state_id == ReportState.id,
            _in(Report.created_at, scope),
        )
        .scalar_subquery()
    )
    stmt = (
        select(ReportState.id, ReportState.name, count)
        .where(ReportState.channel_id == _channel(scope))
        .order_by(ReportState.position, ReportState.id)
    )
    return [(row[0], row[1], int(row[2])) for row in session.execute(stmt)]


def reports_per_user(session: Session, scope: Scope) -> list[tuple[int, int]]:
    """``(user number, reports)`` of each user of the team with a report, most reports
    first. An anonymous report is nobody's."""
    count = (
        select(func.count())
        .select_from(Report)
        .where(
            Report.channel_id == _channel(scope),
            Report.user_number == User.number,
            Report.is_anonymous == False,  # noqa: E712 (SQL, not Python)
            _in(Report.created_at, scope),
        )
        .scalar_subquery()
    )
    per_user = _materialized(
        select(User.number.label("number"), count.label("n"))
        .where(User.organization_id == scope.organization_id)
        .cte("per_user")
    )
    stmt = (
        select(per_user.c.number, per_user.c.n)
        .where(per_user.c.n > 0)
        .order_by(per_user.c.n.desc(), per_user.c.number)
    )
    return [(int(row[0]), int(row[1])) for row in session.execute(stmt)]


def reports_per_field_selection(
    session: Session, scope: Scope, field_id: int
) -> list[tuple[str, str, int]]:
    """``(label, value, reports)`` for every option of the field, in display order."""
    count = (
        select(func.count())
        .select_from(ReportSelection)
        .where(
            ReportSelection.channel_id == _channel(scope),
            ReportSelection.option_id == FieldOption.id,
            _in(ReportSelection.created_at, scope),
        )
        .scalar_subquery()
    )
    team_field = (
        select(FormField.id)
        .where(FormField.id == field_id, FormField.organization_id == scope.organization_id)
        .scalar_subquery()
    )
    stmt = (
        select(FieldOption.label, FieldOption.value, count)
        .where(FieldOption.field_id == team_field)
        .order_by(FieldOption.display_order, FieldOption.id)
    )
    return [(row[0], row[1], int(row[2])) for row in session.execute(stmt)]


def reports_span(session: Session, scope: Scope) -> tuple[datetime, datetime] | None:
    """The first and last ``created_at`` of the channel's reports in the window (two
    seeks of the index), or None when it has none.

    Two subqueries, not ``min`` and ``max`` in one SELECT: SQLite seeks the index only for
    a lone ``min()`` or ``max()``, and with both it reads the whole window (150 ms and
    more for a year of a million-report channel)."""

    def one(aggregate: Any) -> Any:
        return (
            select(aggregate(Report.created_at))
            .where(Report.channel_id == _channel(scope), _in(Report.created_at, scope))
            .scalar_subquery()
        )

    first, last = session.execute(select(one(func.min), one(func.max))).one()
    return (first, last) if first is not None and last is not None else None


def reports_per_slot(
    session: Session, scope: Scope, runs: Sequence[SlotRun], cycle: Cycle
) -> list[tuple[int, int]]:
    """``(slot, reports)`` for every slot of the cycle (local hour, or weekday): the
    window cut into pieces — each run's head and slots, made by a recursive counter —
    each piece counted by its range of the index, the counts summed per slot number."""
    if not runs:
        return [(slot, 0) for slot in range(cycle.size)]
    table = (
        values(
            column("lo", UTCDateTime()),
            column("hi", UTCDateTime()),
            column("first", UTCDateTime()),
            column("head", Integer()),
            column("first_slot", Integer()),
            column("steps", Integer()),
            name="runs",
        )
        .data([(r.start, r.end, r.first, r.head, r.first_slot, r.steps) for r in runs])
        .cte("runs")
    )
    most = max((r.steps for r in runs), default=0)
    counter = (
        select(literal(0, Integer()).label("k"))
        .where(literal(0, Integer()) < most)
        .cte("counter", recursive=True)
    )
    counter = counter.union_all(select(counter.c.k + 1).where(counter.c.k + 1 < most))
    # Where each piece starts: a run's head (unless the run starts on a boundary), then
    # its slots; a piece ends where the next one starts (the last one at the window's end).
    heads = select(table.c.lo.label("lo"), table.c.head.label("slot")).where(
        table.c.first > table.c.lo
    )
    slots = select(
        shifted(table.c.first, counter.c.k * cycle.step),
        (table.c.first_slot + counter.c.k) % cycle.size,
    ).join_from(table, counter, counter.c.k < table.c.steps)
    starts = heads.union_all(slots).cte("starts")
    end = literal(runs[-1].end, UTCDateTime())
    pieces = select(
        starts.c.lo,
        func.lead(starts.c.lo, 1, end).over(order_by=starts.c.lo).label("hi"),
        starts.c.slot,
    ).cte("pieces")
    counted = _materialized(
        select(pieces.c.slot, _reports_between(scope, pieces.c.lo, pieces.c.hi).label("n")).cte(
            "counted"
        )
    )
    sums = (
        select(counted.c.slot, func.sum(counted.c.n).label("n"))
        .group_by(counted.c.slot)
        .subquery("sums")
    )
    every = (
        values(column("slot", Integer()), name="every")
        .data([(i,) for i in range(cycle.size)])
        .cte("every")
    )
    stmt = (
        select(every.c.slot, func.coalesce(sums.c.n, 0))
        .select_from(every)
        .outerjoin(sums, sums.c.slot == every.c.slot)
        .order_by(every.c.slot)
    )
    return [(int(row[0]), int(row[1])) for row in session.execute(stmt)]


def reports_read(session: Session, scope: Scope, fields: Sequence[ReadField]) -> dict[str, int]:
    """The requested counts of the reads made in the window, of the channel's reports:
    a pair's (or report's) first read in the window is one whose previous read is not in
    it; a reader is a user of the team with a read in the scope."""

    def first(previous: Any) -> Any:
        # FILTER, not sum(CASE …): a third less time per row on SQLite.
        return func.count().filter(_first_in(previous, scope))

    readers = (
        select(func.count())
        .select_from(User)
        .where(
            User.organization_id == scope.organization_id,
            # One probe of the index per user (a LIMIT, so that PostgreSQL does not turn
            # it into a join over the window's reads).
            select(ReportRead.created_at)
            .where(
                ReportRead.channel_id == _channel(scope),
                ReportRead.user_number == User.number,
                _in(ReportRead.created_at, scope),
            )
            .limit(1)
            .scalar_subquery()
            .is_not(None),
        )
        .scalar_subquery()
    )
    columns: dict[ReadField, Any] = {
        ReadField.TOTAL_READS: func.count(),
        ReadField.UNIQUE_READS: first(ReportRead.previous_pair_read_at),
        ReadField.REPORT_READERS: readers,
        ReadField.REPORTS_SEEN: first(ReportRead.previous_report_read_at),
    }
    # count(*) always, so that the statement aggregates to one row whatever is asked.
    stmt = (
        select(func.count(), *(columns[f].label(f) for f in fields))
        .select_from(ReportRead)
        .where(ReportRead.channel_id == _channel(scope), _in(ReportRead.created_at, scope))
    )
    row = session.execute(stmt).one()
    return {str(f): int(row[i + 1]) for i, f in enumerate(fields)}


@dataclass(frozen=True)
class AwarenessCounts:
    user_number: int
    first_name: str
    last_name: str
    counts: dict[str, int]


def user_awareness(
    session: Session, scope: Scope, fields: Sequence[AwarenessField]
) -> list[AwarenessCounts]:
    """Per user of the team alerted in the window (about the channel's reports), the
    requested counts; most alerts first.

    One pass over the window's alerts: for each user of the team, every count is taken
    from the same range of ``ix_v4_alerts_channel_user_created`` (not one correlated count
    per field, which read each user's alerts once per field). A user's unique alerts and
    alert source reports are the same number (the distinct reports they were alerted
    to), counted once. The one statement whose form differs by store: PostgreSQL counts
    each user's range in a ``LATERAL`` subquery (as a join grouped by user it would hash
    the whole window's alerts), SQLite has no ``LATERAL`` and runs the join grouped by
    user as the same loop — the users in number order, each one's range in turn, grouped
    in the order the rows come, so without a sort."""
    first = _first_in(Alert.previous_pair_alert_at, scope)
    counted = {
        AwarenessField.TOTAL_ALERTS: func.count(),
        AwarenessField.UNIQUE_ALERTS: func.count().filter(first),
        AwarenessField.ALERTS_OPENED: func.count().filter(Alert.read == True),  # noqa: E712
    }
    same_as = {AwarenessField.ALERT_SOURCE_REPORTS: AwarenessField.UNIQUE_ALERTS}
    wanted = {same_as.get(f, f) for f in fields} | {AwarenessField.TOTAL_ALERTS}
    aggregates = [counted[f].label(f) for f in AwarenessField if f in wanted]
    users_alerts = and_(
        Alert.channel_id == _channel(scope),
        Alert.user_number == User.number,
        _in(Alert.created_at, scope),
    )
    team = User.organization_id == scope.organization_id
    if session.get_bind().dialect.name == "postgresql":
        per_user: Any = select(*aggregates).where(users_alerts).lateral("per_user")
        total = per_user.c[AwarenessField.TOTAL_ALERTS]
        stmt = (
            select(User.number.label("number"), User.first_name, User.last_name, per_user)
            .join_from(User, per_user, true())
            .where(team, total > 0)
        )
    else:
        per_user = _materialized(
            select(User.number.label("number"), *aggregates)
            .join_from(User, Alert, users_alerts)
            .where(team)
            .group_by(User.number)
            .cte("per_user")
        )
        total = per_user.c[AwarenessField.TOTAL_ALERTS]
        stmt = select(per_user, User.first_name, User.last_name).join_from(
            per_user, User, User.number == per_user.c.number
        )
    stmt = stmt.order_by(total.desc(), User.number)
    return [
        AwarenessCounts(
            row.number,
            row.first_name or "",
            row.last_name or "",
            {f: int(row._mapping[same_as.get(f, f)]) for f in fields},
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
    session: Session, scope: Scope, offset: int, limit: int
) -> tuple[list[ImageRow], int]:
    """A page of the images of the reports made in the window, newest first, and how
    many there are in all — one statement: the count, joined to the page."""
    where = (ReportImage.channel_id == _channel(scope), _in(ReportImage.created_at, scope))
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


def selection_fields(
    session: Session, organization_id: UUID, channel_id: int, kinds: Sequence[str]
) -> list[tuple[int, str]]:
    """(id, label) of the fields of the channel's form whose type is one of ``kinds``, in
    the form's order."""
    rows = session.execute(
        select(FormField.id, FormField.label)
        .join(Channel, Channel.form_id == FormField.form_id)
        .where(
            Channel.organization_id == organization_id,
            Channel.id == channel_id,
            FormField.organization_id == organization_id,
            FormField.field_type.in_(list(kinds)),
        )
        .order_by(FormField.form_order, FormField.id)
    )
    return [(int(field_id), str(label)) for field_id, label in rows]
