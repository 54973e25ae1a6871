"""The worker's work on claimed targets, read in one direction: plan → measure → decide →
write.

1. **Plan** (pure, ``planning.plan_target``): from each schedule as claimed and the pass's
   instant, what is due — closed periods to evaluate, a snapshot card, an ongoing check —
   and when the target next has work.
2. **Measure** (event-store reads only): the value of each planned period.
3. **Decide** (pure): evaluation rows, statuses, whether the check alerts, the schedule's
   next state.
4. **Write** (relational store): evaluations, cards into the outbox, the schedule.

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
from tallybook.evaluations.models import Evaluation
from tallybook.evaluations.planning import (
    ScheduleState,
    SnapshotDue,
    TargetCalendar,
    TargetPlan,
    Timing,
    idle_plan,
    plan_target,
)
from tallybook.evaluations.repository import NewEvaluation
from tallybook.events.query.language import EventQuery
from tallybook.events.store import EventStore
from tallybook.kit.db import utcnow
from tallybook.notifications.cards.data import Card, ChartPoint, NotificationKind, PeriodLine
from tallybook.notifications.models import NotificationSetting
from tallybook.notifications.outbox import queue as outbox
from tallybook.organizations.models import Organization
from tallybook.targets.bounds import Datasource, TargetBound, TargetStatus, is_alerting, status_of
from tallybook.targets.models import Target, TargetSchedule
from tallybook.targets.periods import Period
from tallybook.workflows.models import Workflow

CHART_PERIODS = 8
SNAPSHOT_LINES = 31
"""The most reporting periods one snapshot lists: the latest of its notification period
(docs/worker.md, Known limits)."""

MapFn = Callable[..., Iterable[Any]]


@dataclass(frozen=True)
class TargetContext:
    """A target the worker evaluates, with what its cards and calendar need."""

    target: Target
    workflow: Workflow
    organization: Organization
    calendar: TargetCalendar
    settings: list[NotificationSetting]  # the active ones, when notifications are on

    @property
    def query(self) -> EventQuery:
        return EventQuery.model_validate(self.target.reporting_query)


@dataclass(frozen=True)
class TargetWork:
    """A claimed schedule, its target (None: not evaluated) and the plan for it."""

    schedule: TargetSchedule
    context: TargetContext | None
    plan: TargetPlan


@dataclass(frozen=True)
class PeriodValue:
    """What the event store said for one closed period."""

    period: Period
    raw: float | None  # None: no event matched
    computed_at: datetime


@dataclass(frozen=True)
class Measured:
    closed: tuple[PeriodValue, ...]
    current: float | None  # the current period so far, when the plan has a check


@dataclass(frozen=True)
class AlertDue:
    """An ongoing check found a LOWER target reached or an UPPER target broken."""

    period: Period  # the current reporting period
    value: float
    status: TargetStatus


@dataclass(frozen=True)
class Decision:
    evaluations: tuple[NewEvaluation, ...]
    alert: AlertDue | None
    schedule: ScheduleState  # after the pass
    next_due: datetime


def process_targets(
    session: Session,
    store: EventStore,
    schedules: Sequence[TargetSchedule],
    owner: str,
    now: datetime,
    timing: Timing,
    bundle_window: timedelta,
    map_: MapFn = map,
) -> None:
    """Everything due for these claimed targets as of ``now``; leaves their schedules
    planned and released. ``map_`` runs the event-store reads (a thread pool's ``map``
    overlaps them)."""
    started = utcnow()  # edits from here on are newer than this pass's plan
    contexts = _load(session, schedules)
    work = [plan(schedule, contexts.get(schedule.target_id), now, timing) for schedule in schedules]
    # Event-store reads first, writes after: on SQLite a transaction holds the database's
    # write lock from its first write, and other workers wait for it.
    measured = list(map_(lambda item: measure(store, item), work))
    still_mine = repository.lock_claimed(session, [s.target_id for s in schedules], owner)
    decided = [
        (item, decide(item, values))
        for item, values in zip(work, measured, strict=True)
        if item.schedule.target_id in still_mine
    ]
    repository.add_evaluations(session, [e for _, d in decided for e in d.evaluations])
    notifications: list[outbox.QueuedCard] = []
    for item, decision in decided:
        notifications += _cards(session, item, decision, bundle_window)
        _record(item.schedule, decision, started)
    outbox.enqueue(session, notifications)


def plan(
    schedule: TargetSchedule, context: TargetContext | None, now: datetime, timing: Timing
) -> TargetWork:
    state = ScheduleState(
        evaluated_until=schedule.evaluated_until,
        snapshot_until=schedule.snapshot_until,
        checked_at=schedule.checked_at,
        alerted_period_start=schedule.alerted_period_start,
    )
    if context is None:
        return TargetWork(schedule, None, idle_plan(state, now, timing))
    notify = bool(context.settings)
    return TargetWork(schedule, context, plan_target(state, context.calendar, notify, now, timing))


def measure(store: EventStore, work: TargetWork) -> Measured:
    """The plan's periods' values from the event store: its only I/O."""
    context, plan = work.context, work.plan
    if context is None:
        return Measured((), None)
    target = context.target

    def value(start: datetime, end: datetime) -> float | None:
        return store.value(
            target.organization_id, context.query, start, end, target.reporting_field
        )

    closed = []
    for period in plan.close:
        raw = value(period.start, period.end)
        closed.append(PeriodValue(period, raw, utcnow()))
    current = None
    if plan.check is not None:
        raw = value(plan.check.start, plan.now)
        current = 0.0 if raw is None else raw
    return Measured(tuple(closed), current)


def decide(work: TargetWork, measured: Measured) -> Decision:
    """Statuses, the alert and the schedule's next state, from the plan and the values."""
    plan, context = work.plan, work.context
    evaluations: tuple[NewEvaluation, ...] = ()
    alert = None
    if context is not None:
        evaluations = tuple(_evaluation(context.target, v) for v in measured.closed)
        threshold = context.target.reporting_threshold
        current = measured.current
        if plan.check is not None and current is not None and is_alerting(current, threshold):
            status = status_of(context.target.reporting_bound, current, threshold)
            alert = AlertDue(plan.check, current, status)
    alerted = alert is not None
    return Decision(
        evaluations, alert, plan.after(alerted=alerted), plan.due_after(alerted=alerted)
    )


def _evaluation(target: Target, measured: PeriodValue) -> NewEvaluation:
    value = 0.0 if measured.raw is None else measured.raw
    status = status_of(target.reporting_bound, value, target.reporting_threshold)
    return NewEvaluation(
        organization_id=target.organization_id,
        target_id=target.id,
        period_start=measured.period.start,
        period_end=measured.period.end,
        value=value,
        has_data=measured.raw is not None,
        threshold=target.reporting_threshold,
        bound=TargetBound(target.reporting_bound),
        status=status,
        is_reached=status.is_reached,
        created_at=measured.computed_at,
    )


def _record(schedule: TargetSchedule, decision: Decision, started: datetime) -> None:
    state = decision.schedule
    schedule.evaluated_until = state.evaluated_until
    schedule.snapshot_until = state.snapshot_until
    schedule.checked_at = state.checked_at
    schedule.alerted_period_start = state.alerted_period_start
    schedule.next_due_at = decision.next_due
    schedule.planned_at = started
    schedule.lease_owner = None
    schedule.lease_until = None
    schedule.failure_count = 0  # a success clears the worker's last failure
    schedule.last_error = schedule.last_error_type = schedule.last_error_at = None


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
        if target.reporting_datasource != Datasource.GENERIC_REPORTING:
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


def _cards(
    session: Session, work: TargetWork, decision: Decision, bundle_window: timedelta
) -> list[outbox.QueuedCard]:
    """The outbox rows of this target's due cards (the plan's snapshot, the alert)."""
    context, now = work.context, work.plan.now
    if context is None:
        return []
    rows: list[outbox.QueuedCard] = []
    if work.plan.snapshot is not None:
        rows += _snapshot(session, context, work.plan.snapshot, now, bundle_window)
    if decision.alert is not None:
        rows += _alert(session, context, decision.alert, now, bundle_window)
    return rows


def _snapshot(
    session: Session,
    context: TargetContext,
    due: SnapshotDue,
    now: datetime,
    bundle_window: timedelta,
) -> list[outbox.QueuedCard]:
    """One card per setting for the latest closed notification period, never a backlog.

    The card lists the reporting periods that ended within that notification period
    (all evaluated by now: they ended before it did) and after the previous card.
    """
    target = context.target
    history = repository.recent_evaluations(
        session, target.organization_id, target.id, due.period.end, SNAPSHOT_LINES + CHART_PERIODS
    )
    if not history or (due.after is not None and history[-1].period_end <= due.after):
        return []
    # Usually `due.period` itself; else (no reporting period ended in it: the active window
    # ended before, or a long reporting period) the last one in which one ended.
    carded = context.calendar.notification(history[-1].period_end - timedelta(microseconds=1))
    within = [
        e
        for e in history
        if carded.start < e.period_end <= carded.end
        and (due.after is None or e.period_end > due.after)
    ]
    lines = tuple(_line(e, _before(history, e)) for e in within[-SNAPSHOT_LINES:])
    card = _card(context, NotificationKind.SNAPSHOT, lines, history[-CHART_PERIODS:], None)
    return outbox.rows_for(
        context.settings, NotificationKind.SNAPSHOT, carded, card, now, bundle_window
    )


def _alert(
    session: Session,
    context: TargetContext,
    alert: AlertDue,
    now: datetime,
    bundle_window: timedelta,
) -> list[outbox.QueuedCard]:
    """Alert once per period when a LOWER target is reached or an UPPER target broken."""
    target, current = context.target, alert.period
    history = repository.recent_evaluations(
        session, target.organization_id, target.id, current.start, CHART_PERIODS - 1
    )
    previous = history[-1] if history and history[-1].period_end == current.start else None
    line = PeriodLine(
        start=current.start,
        end=now,
        value=alert.value,
        status=alert.status,
        previous_value=previous.value if previous else None,
    )
    card = _card(
        context, NotificationKind.ALERT, (line,), history, ChartPoint(current.start, alert.value)
    )
    return outbox.rows_for(
        context.settings, NotificationKind.ALERT, current, card, now, bundle_window
    )


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
