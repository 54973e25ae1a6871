"""The worker's work on claimed targets: evaluate closed periods, queue snapshots, check now.

A claimed batch runs in one transaction while the worker holds the targets' schedule
leases; the outbox's unique key makes every queued notification harmless to queue again.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from tallybook.evaluations import repository
from tallybook.evaluations.models import Evaluation, TargetSchedule
from tallybook.evaluations.planning import (
    TargetCalendar,
    latest_closed_notification_period,
    latest_due_period,
    next_evaluation_due,
    next_notification_due,
    periods_to_evaluate,
)
from tallybook.events.query.language import EventQuery
from tallybook.events.store import EventStore
from tallybook.kit.db import utcnow
from tallybook.notifications.cards.data import (
    Card,
    ChartPoint,
    NotificationKind,
    PeriodLine,
    is_alerting,
    status_of,
)
from tallybook.notifications.models import NotificationSetting
from tallybook.notifications.outbox import queue as outbox
from tallybook.organizations.models import Organization
from tallybook.settings import Settings
from tallybook.targets.models import Target
from tallybook.workflows.models import Workflow

CHART_PERIODS = 8


@dataclass(frozen=True)
class WorkerConfig:
    delay: timedelta
    check_interval: timedelta
    catch_up_periods: int

    @classmethod
    def from_settings(cls, settings: Settings) -> WorkerConfig:
        return cls(
            delay=timedelta(seconds=settings.evaluation_delay),
            check_interval=timedelta(seconds=settings.check_interval),
            catch_up_periods=settings.catch_up_periods,
        )


@dataclass(frozen=True)
class TargetContext:
    target: Target
    workflow: Workflow
    organization: Organization
    calendar: TargetCalendar
    settings: list[NotificationSetting]  # the active ones, when notifications are on

    @property
    def query(self) -> EventQuery:
        return EventQuery.model_validate(self.target.reporting_query)


@dataclass(frozen=True)
class Measured:
    """What the event store said for one target: closed periods' rows, the current value."""

    closed: list[dict[str, Any]]
    current: float | None


MapFn = Callable[..., Iterable[Any]]


def process_targets(
    session: Session,
    store: EventStore,
    schedules: Sequence[TargetSchedule],
    owner: str,
    now: datetime,
    config: WorkerConfig,
    bundle_window: timedelta,
    map_: MapFn = map,
) -> None:
    """Everything due for these claimed targets as of ``now``; leaves their schedules
    planned and released. ``map_`` runs the event-store reads (a thread pool's ``map``
    overlaps them)."""
    started = utcnow()  # edits from here on are newer than this pass's plan
    contexts = _load(session, schedules)
    work = [(schedule, contexts.get(schedule.target_id)) for schedule in schedules]
    # Event-store reads first, writes after: on SQLite a transaction holds the database's
    # write lock from its first write, and other workers wait for it.
    measured = list(map_(lambda item: _measure(store, item[0], item[1], now, config), work))
    still_mine = repository.lock_claimed(session, [s.target_id for s in schedules], owner)
    kept = [(w, m) for w, m in zip(work, measured, strict=True) if w[0].target_id in still_mine]
    repository.add_evaluations(session, [row for _, m in kept if m for row in m.closed])
    notifications: list[dict[str, Any]] = []
    for (schedule, context), values in kept:
        if context is None or values is None:
            schedule.next_due_at = now + config.check_interval
        else:
            _advance(context, schedule, now, config)
            notifications += _snapshot(session, context, schedule, now, config, bundle_window)
            if values.current is not None:
                notifications += _alert(
                    session, context, schedule, now, values.current, bundle_window
                )
            schedule.next_due_at = _next_due(context, schedule, now, config)
        schedule.planned_at = started
        schedule.lease_owner = None
        schedule.lease_until = None
    outbox.enqueue(session, notifications)


def _load(session: Session, schedules: Sequence[TargetSchedule]) -> dict[uuid.UUID, TargetContext]:
    pairs = [(schedule.organization_id, schedule.target_id) for schedule in schedules]
    stmt = (
        select(Target, Workflow, Organization)
        .join(Workflow, Workflow.id == Target.workflow_id)
        .join(Organization, Organization.id == Target.organization_id)
        .where(tuple_(Target.organization_id, Target.id).in_(pairs))
    )
    settings = outbox.active_settings(session, pairs)
    contexts = {}
    for target, workflow, organization in session.execute(stmt):
        if not organization.subscription_active:
            continue
        if target.reporting_datasource != "GENERIC_REPORTING":
            continue
        calendar = TargetCalendar(
            reporting_period=target.reporting_period,
            notification_period=target.effective_notification_period,
            timezone=organization.timezone,
            anchor=target.target_active_from or target.created_at,
            active_from=target.target_active_from,
            active_until=target.target_active_until,
        )
        mine = settings.get(target.id, []) if target.are_notifications_active else []
        contexts[target.id] = TargetContext(target, workflow, organization, calendar, mine)
    return contexts


def _measure(
    store: EventStore,
    schedule: TargetSchedule,
    context: TargetContext | None,
    now: datetime,
    config: WorkerConfig,
) -> Measured | None:
    if context is None:
        return None
    return Measured(
        _measure_closed_periods(store, context, schedule, now, config),
        _measure_current_period(store, context, schedule, now, config),
    )


def _measure_closed_periods(
    store: EventStore,
    context: TargetContext,
    schedule: TargetSchedule,
    now: datetime,
    config: WorkerConfig,
) -> list[dict[str, Any]]:
    periods = periods_to_evaluate(
        context.calendar, now, config.delay, schedule.evaluated_until, config.catch_up_periods
    )
    target = context.target
    rows = []
    for period in periods:
        raw = store.value(
            target.organization_id, context.query, period.start, period.end, target.reporting_field
        )
        value = 0.0 if raw is None else raw
        status = status_of(target.reporting_bound, value, target.reporting_threshold)
        rows.append(
            {
                "organization_id": target.organization_id,
                "target_id": target.id,
                "period_start": period.start,
                "period_end": period.end,
                "value": value,
                "has_data": raw is not None,
                "threshold": target.reporting_threshold,
                "bound": target.reporting_bound,
                "status": status,
                "is_reached": status in ("reached", "holds"),
                "created_at": utcnow(),
            }
        )
    return rows


def _advance(
    context: TargetContext, schedule: TargetSchedule, now: datetime, config: WorkerConfig
) -> None:
    latest = latest_due_period(context.calendar, now, config.delay)
    if schedule.evaluated_until is None or latest.end > schedule.evaluated_until:
        schedule.evaluated_until = latest.end


def _snapshot(
    session: Session,
    context: TargetContext,
    schedule: TargetSchedule,
    now: datetime,
    config: WorkerConfig,
    bundle_window: timedelta,
) -> list[dict[str, Any]]:
    """One card per setting for the latest closed notification period, never a backlog.

    The card lists the reporting periods that ended within that notification period
    (all evaluated by now: they ended before it did) and after the previous card.
    """
    period = latest_closed_notification_period(context.calendar, now, config.delay)
    carded_until = schedule.snapshot_until
    if carded_until is not None and period.end <= carded_until:
        return []
    schedule.snapshot_until = period.end
    if not context.settings:
        return []
    target = context.target
    history = repository.recent_evaluations(
        session, target.organization_id, target.id, period.end, 31 + CHART_PERIODS
    )
    if not history or (carded_until is not None and history[-1].period_end <= carded_until):
        return []
    # Usually `period` itself; else (no reporting period ended in it: the active window
    # ended before, or a long reporting period) the last one in which one ended.
    carded = context.calendar.notification(history[-1].period_end - timedelta(microseconds=1))
    within = [
        e
        for e in history
        if carded.start < e.period_end <= carded.end
        and (carded_until is None or e.period_end > carded_until)
    ]
    lines = tuple(_line(e, _before(history, e)) for e in within)
    card = _card(context, NotificationKind.SNAPSHOT, lines, history[-CHART_PERIODS:], None)
    return outbox.rows_for(
        context.settings, NotificationKind.SNAPSHOT, carded, card, now, bundle_window
    )


def _measure_current_period(
    store: EventStore,
    context: TargetContext,
    schedule: TargetSchedule,
    now: datetime,
    config: WorkerConfig,
) -> float | None:
    """The current period's value so far, when an ongoing check is due; else None."""
    if not _wants_check(context, schedule, now):
        return None
    if schedule.checked_at is not None and now < schedule.checked_at + config.check_interval:
        return None
    target = context.target
    start = context.calendar.reporting(now).start
    raw = store.value(target.organization_id, context.query, start, now, target.reporting_field)
    return 0.0 if raw is None else raw


def _alert(
    session: Session,
    context: TargetContext,
    schedule: TargetSchedule,
    now: datetime,
    value: float,
    bundle_window: timedelta,
) -> list[dict[str, Any]]:
    """Alert once per period when a LOWER target is reached or an UPPER target broken."""
    schedule.checked_at = now
    target = context.target
    if not is_alerting(target.reporting_bound, value, target.reporting_threshold):
        return []
    current = context.calendar.reporting(now)
    schedule.alerted_period_start = current.start
    history = repository.recent_evaluations(
        session, target.organization_id, target.id, current.start, CHART_PERIODS - 1
    )
    previous = history[-1] if history and history[-1].period_end == current.start else None
    line = PeriodLine(
        start=current.start,
        end=now,
        value=value,
        status=status_of(target.reporting_bound, value, target.reporting_threshold),
        previous_value=previous.value if previous else None,
    )
    card = _card(
        context, NotificationKind.ALERT, (line,), history, ChartPoint(current.start, value)
    )
    return outbox.rows_for(
        context.settings, NotificationKind.ALERT, current, card, now, bundle_window
    )


def _wants_check(context: TargetContext, schedule: TargetSchedule, now: datetime) -> bool:
    if not context.settings or not context.calendar.is_active_at(now):
        return False
    current = context.calendar.reporting(now)
    return schedule.alerted_period_start != current.start


def _next_due(
    context: TargetContext, schedule: TargetSchedule, now: datetime, config: WorkerConfig
) -> datetime:
    due = next_evaluation_due(context.calendar, now, config.delay)
    if context.settings:
        due = min(due, next_notification_due(context.calendar, now, config.delay))
    if _wants_check(context, schedule, now):
        checked = schedule.checked_at or now
        due = min(due, checked + config.check_interval)
    opens = context.calendar.active_from
    if context.settings and opens is not None and opens > now:
        due = min(due, opens)  # checks start when the window opens, not when a period ends
    return due


def _before(history: list[Evaluation], evaluation: Evaluation) -> Evaluation | None:
    index = history.index(evaluation)
    if index == 0:
        return None
    previous = history[index - 1]
    return previous if previous.period_end == evaluation.period_start else None


def _line(evaluation: Evaluation, previous: Evaluation | None) -> PeriodLine:
    return PeriodLine(
        start=evaluation.period_start,
        end=evaluation.period_end,
        value=evaluation.value,
        status=evaluation.status,
        previous_value=previous.value if previous else None,
    )


def _card(
    context: TargetContext,
    kind: NotificationKind,
    lines: tuple[PeriodLine, ...],
    history: list[Evaluation],
    current: ChartPoint | None,
) -> Card:
    chart = [ChartPoint(e.period_start, e.value) for e in history]
    if current is not None:
        chart.append(current)
    target = context.target
    return Card(
        kind=kind,
        organization=context.organization.name,
        workflow=context.workflow.name,
        target=target.name,
        timezone=context.organization.timezone,
        reporting_period=target.reporting_period,
        threshold=target.reporting_threshold,
        bound=target.reporting_bound,
        lines=lines,
        chart=tuple(chart),
    )
