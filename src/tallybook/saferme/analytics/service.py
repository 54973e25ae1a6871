"""The nine analytics answers: find the channel (404 if not the team's), work out the
calendar in Python, count in one statement, shape the rows. (Local hours and weekdays
first look up where the channel's reports in the window begin and end.)"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from tallybook.kit.db import plan_for_values
from tallybook.kit.errors import InvalidPayload, NotFound
from tallybook.saferme.analytics import buckets, repository
from tallybook.saferme.analytics.buckets import MAX_BUCKETS, TooManyBuckets, Width
from tallybook.saferme.analytics.params import Window
from tallybook.saferme.analytics.schemas import (
    AwarenessField,
    AwarenessRow,
    DayHourRow,
    FieldSelectionRow,
    OverTimeRow,
    ReadField,
    ReadsSummary,
    ReportImageRow,
    StateRow,
    UserRow,
    WeekDayRow,
)
from tallybook.saferme.auth import TeamMember
from tallybook.saferme.channels import repository as channels
from tallybook.saferme.files.service import styles
from tallybook.saferme.ranges import ObjectRange
from tallybook.saferme.types import FieldType

SELECTION_TYPES = frozenset({FieldType.CATEGORY, FieldType.DROP_DOWN, FieldType.RADIO})
"""The field types ``reports_per_field_selection`` answers for (the seed names these)."""


def _scoped(session: Session, member: TeamMember, window: Window) -> repository.Scope:
    """The window of a channel of the caller's team; any other channel is 404. The
    statements that count in it are planned for the window (a day or a year)."""
    plan_for_values(session)
    found = channels.channel(session, member.organization_id, window.channel_id)
    if found is None:
        raise NotFound("No such channel.")
    return repository.Scope(member.organization_id, found.id, window.start, window.end)


def reports_images(
    session: Session, member: TeamMember, window: Window, base_url: str, page: ObjectRange
) -> tuple[list[ReportImageRow], int]:
    scoped = _scoped(session, member, window)
    rows, total = repository.reports_images(session, scoped, page.offset, page.limit)
    return [
        ReportImageRow(
            report_image_id=row.report_image_id,
            account_id=scoped.channel_id,
            report_id=row.report_id,
            created_at=row.created_at,
            styles=styles(base_url, row.attachment_id),
        )
        for row in rows
    ], total


def reports_over_time(
    session: Session, member: TeamMember, window: Window, width: Width | None, zone: ZoneInfo
) -> list[OverTimeRow]:
    chosen = width or buckets.choose_width(window.start, window.end)
    try:
        bounds = buckets.boundaries(window.start, window.end, chosen, zone)
    except TooManyBuckets:
        raise InvalidPayload(
            [
                {
                    "loc": ["query", "width"],
                    "msg": f"gives more than {MAX_BUCKETS} buckets over this range; "
                    "choose a wider width or a shorter range",
                }
            ]
        ) from None
    scoped = _scoped(session, member, window)
    return [
        OverTimeRow(
            account_id=scoped.channel_id,
            datetime_range_start=start,
            report_count=count,
            datetime_range_width=chosen,
        )
        for start, count in repository.reports_over_time(session, scoped, bounds)
    ]


def reports_per_field_selection(
    session: Session, member: TeamMember, window: Window, field_id: int
) -> list[FieldSelectionRow]:
    scoped = _scoped(session, member, window)
    field = repository.field(session, member.organization_id, field_id)
    if field is None:
        raise NotFound("No such field.")
    if field.field_type not in SELECTION_TYPES:
        kinds = ", ".join(sorted(SELECTION_TYPES))
        raise InvalidPayload(
            [{"loc": ["query", "field_id"], "msg": f"must be a field of type {kinds}"}],
            f"Counts per selection are made only for fields of type {kinds}.",
        )
    return [
        FieldSelectionRow(
            field_id=field.id,
            account_id=scoped.channel_id,
            name=label,
            value=value,
            report_count=count,
        )
        for label, value, count in repository.reports_per_field_selection(session, scoped, field.id)
    ]


def reports_per_state(session: Session, member: TeamMember, window: Window) -> list[StateRow]:
    scoped = _scoped(session, member, window)
    return [
        StateRow(id=state_id, name=name, account_id=scoped.channel_id, report_count=count)
        for state_id, name, count in repository.reports_per_state(session, scoped)
    ]


def reports_per_user(session: Session, member: TeamMember, window: Window) -> list[UserRow]:
    scoped = _scoped(session, member, window)
    return [
        UserRow(user_id=number, account_id=scoped.channel_id, report_count=count)
        for number, count in repository.reports_per_user(session, scoped)
    ]


def _runs(
    session: Session, scoped: repository.Scope, zone: ZoneInfo, cycle: buckets.Cycle
) -> list[buckets.SlotRun]:
    """The local hours (or days) to count: those of the window where the channel has
    reports, so that a window of years over a few months of reports costs those months."""
    span = repository.reports_span(session, scoped)
    if span is None:
        return []
    start, end = span[0], span[1] + timedelta(microseconds=1)
    return buckets.slot_runs(buckets.offset_periods(start, end, zone), cycle)


def reports_per_day_hour(
    session: Session, member: TeamMember, window: Window, zone: ZoneInfo
) -> list[DayHourRow]:
    scoped = _scoped(session, member, window)
    runs = _runs(session, scoped, zone, buckets.HOURS)
    return [
        DayHourRow(account_id=scoped.channel_id, hour=hour, report_count=count)
        for hour, count in repository.reports_per_slot(session, scoped, runs, buckets.HOURS)
    ]


def reports_per_week_day(
    session: Session, member: TeamMember, window: Window, zone: ZoneInfo
) -> list[WeekDayRow]:
    scoped = _scoped(session, member, window)
    runs = _runs(session, scoped, zone, buckets.WEEKDAYS)
    return [
        WeekDayRow(account_id=scoped.channel_id, dow=dow, report_count=count)
        for dow, count in repository.reports_per_slot(session, scoped, runs, buckets.WEEKDAYS)
    ]


def reports_read(
    session: Session, member: TeamMember, window: Window, fields: Sequence[ReadField]
) -> ReadsSummary:
    scoped = _scoped(session, member, window)
    return ReadsSummary.model_validate(repository.reports_read(session, scoped, fields))


def user_awareness(
    session: Session, member: TeamMember, window: Window, fields: Sequence[AwarenessField]
) -> list[AwarenessRow]:
    scoped = _scoped(session, member, window)
    return [
        AwarenessRow.model_validate(
            {
                "user_id": row.user_number,
                "first_name": row.first_name,
                "last_name": row.last_name,
                **row.counts,
            }
        )
        for row in repository.user_awareness(session, scoped, fields)
    ]


def selection_fields(
    session: Session, member: TeamMember, channel_id: int
) -> list[tuple[int, str]]:
    """(id, label) of the channel's form fields that ``reports_per_field_selection``
    answers for, in the form's order (none when the channel has no form)."""
    return repository.selection_fields(
        session, member.organization_id, channel_id, sorted(SELECTION_TYPES)
    )
