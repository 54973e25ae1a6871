from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from tallybook.auth.principal import Principal
from tallybook.events.query.language import EventQuery
from tallybook.events.store import EventStore
from tallybook.kit.errors import InvalidPayload, NotFound, validation_errors
from tallybook.targets import repository
from tallybook.targets.bounds import is_reached
from tallybook.targets.models import Target
from tallybook.targets.periods import Period, period_containing
from tallybook.targets.schemas import TargetCreate, TargetTest, TargetUpdate
from tallybook.workflows.service import get_workflow

_EDITABLE = (
    "name",
    "reporting_bound",
    "reporting_threshold",
    "reporting_field",
    "reporting_period",
    "notification_period",
    "reporting_datasource",
    "are_notifications_active",
    "target_active_from",
    "target_active_until",
)


def list_targets(session: Session, principal: Principal, workflow_id: uuid.UUID) -> list[Target]:
    get_workflow(session, principal, workflow_id)
    return repository.list_for_workflow(session, principal.organization_id, workflow_id)


def targets_by_workflow(session: Session, principal: Principal) -> dict[uuid.UUID, list[Target]]:
    """Every target of the caller's organisation, by workflow (in one query)."""
    found: dict[uuid.UUID, list[Target]] = {}
    for target in repository.list_for_organization(session, principal.organization_id):
        found.setdefault(target.workflow_id, []).append(target)
    return found


def get_target(
    session: Session, principal: Principal, workflow_id: uuid.UUID, target_id: uuid.UUID
) -> Target:
    target = repository.get(session, principal.organization_id, target_id, workflow_id)
    if target is None:
        raise NotFound("No such target in this workflow.")
    return target


def create_target(
    session: Session,
    principal: Principal,
    store: EventStore,
    workflow_id: uuid.UUID,
    data: TargetCreate,
) -> Target:
    get_workflow(session, principal, workflow_id)
    _runnable(store, data)
    target = Target(
        organization_id=principal.organization_id,
        workflow_id=workflow_id,
        reporting_query=data.stored_query(),
        **{name: getattr(data, name) for name in _EDITABLE},
    )
    session.add(target)
    session.flush()
    return target


def update_target(
    session: Session,
    principal: Principal,
    store: EventStore,
    workflow_id: uuid.UUID,
    target_id: uuid.UUID,
    data: TargetUpdate,
) -> Target:
    target = get_target(session, principal, workflow_id, target_id)
    merged: dict[str, Any] = {name: getattr(target, name) for name in _EDITABLE}
    merged["reporting_query"] = target.reporting_query
    for name, value in data.provided().items():
        merged[name] = (
            value.model_dump(mode="json", exclude_unset=True)
            if name == ("reporting_query") and value is not None
            else value
        )
    try:
        valid = TargetCreate.model_validate(merged)
    except ValidationError as exc:
        raise InvalidPayload(validation_errors(exc.errors(), "body")) from None
    _runnable(store, valid)
    for name in _EDITABLE:
        setattr(target, name, getattr(valid, name))
    target.reporting_query = valid.stored_query()
    session.flush()
    return target


def _runnable(store: EventStore, data: TargetCreate) -> None:
    """400 for a valid query the event store cannot run (a regex pattern RE2 refuses), as
    the fetch API refuses it, so that no stored target fails at every evaluation."""
    try:
        store.check_query(data.reporting_query)
    except InvalidPayload as exc:
        errors = [
            {**e, "loc": ["body", "reporting_query", *e["loc"][1:]]} for e in exc.errors or []
        ]
        raise InvalidPayload(errors) from None


def delete_target(
    session: Session, principal: Principal, workflow_id: uuid.UUID, target_id: uuid.UUID
) -> None:
    session.delete(get_target(session, principal, workflow_id, target_id))
    session.flush()


def test_target(
    session: Session,
    principal: Principal,
    store: EventStore,
    workflow_id: uuid.UUID,
    target_id: uuid.UUID,
    now: datetime,
) -> TargetTest:
    """The target's value over its current reporting period, up to ``now``."""
    target = get_target(session, principal, workflow_id, target_id)
    workflow = get_workflow(session, principal, workflow_id)
    period = period_containing(
        now,
        target.reporting_period,
        principal.organization.timezone,
        anchor=target.target_active_from or target.created_at,
    )
    query = EventQuery.model_validate(target.reporting_query)
    value = store.value(principal.organization_id, query, period.start, now, target.reporting_field)
    measured = float(value) if value is not None else 0.0
    return TargetTest(
        workflow=workflow.name,
        target=target.name,
        selected_period=target.reporting_period,
        timespan_requested=Period(period.start, now).iso(),
        value=measured,
        threshold=target.reporting_threshold,
        bound=target.reporting_bound,
        is_reached=is_reached(target.reporting_bound, measured, target.reporting_threshold),
    )
