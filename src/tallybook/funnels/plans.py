"""Source-data queries as typed plans: which relation, which columns, which filters, in
timestamp order, at most ``limit`` rows. Each is a
:class:`~tallybook.events.query.render.RelationPlan` the event store renders and runs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from sqlglot import exp

from tallybook.events.query.language import InFilter
from tallybook.events.query.plan import naive_utc
from tallybook.events.query.render import Renderer, column
from tallybook.funnels.paths import (
    StepPath,
    WorkflowScope,
    affected_goal_events,
    all_goal_events,
    qualifying_step_events,
    triggered_goal_events,
)
from tallybook.funnels.schemas import PropertyFilter
from tallybook.funnels.types import Rows

ORDER: Final = ("timestamp", "session_id", "visitor_id", "dim5", "action", "label")
"""Rows come in timestamp order; the rest breaks most ties the same way every time."""
MILLISECOND: Final = timedelta(milliseconds=1)


@dataclass(frozen=True)
class SourceRowsPlan:
    """One source-data query (seeds 001 and 002)."""

    rows: Rows
    scope: WorkflowScope
    path: StepPath
    columns: tuple[str, ...]
    filters: tuple[PropertyFilter, ...] = ()
    step: int | None = None
    limit: int | None = None
    since: datetime | None = None
    """Only rows at or after this instant (the relation still judges them by the events
    from the interval's start): one slice of a long answer (``service.stream_batches``)."""

    def __post_init__(self) -> None:
        if self.rows in (Rows.STEP, Rows.TRIGGERED_GOAL) and self.step is None:
            raise ValueError(f"{self.rows} rows need a step")
        if not self.columns:
            raise ValueError("a plan selects at least one column")

    def select(self, sql: Renderer) -> exp.Select:
        condition = property_filters(sql, self.filters)
        if self.since is not None:
            since = exp.GTE(
                this=column("timestamp"), expression=sql.bind(naive_utc(self.since), "timestamp")
            )
            condition = since if condition is None else exp.and_(condition, since, copy=False)
        if self.rows == Rows.STEP:
            assert self.step is not None
            relation = qualifying_step_events(
                sql,
                self.scope,
                self.path,
                step=self.step,
                columns=self.columns,
                condition=condition,
            )
        elif self.rows == Rows.TRIGGERED_GOAL:
            assert self.step is not None
            relation = triggered_goal_events(
                sql,
                self.scope,
                self.path,
                step=self.step,
                columns=self.columns,
                condition=condition,
            )
        elif self.rows == Rows.AFFECTED_GOAL:
            relation = affected_goal_events(
                sql, self.scope, self.path, columns=self.columns, condition=condition
            )
        else:
            relation = all_goal_events(sql, self.scope, columns=self.columns, condition=condition)
        order = [exp.Ordered(this=column(name), nulls_first=True) for name in ORDER]
        relation = relation.order_by(*order, copy=False)
        if self.limit is not None:
            relation = relation.limit(exp.Literal.number(self.limit), copy=False)
        return relation


def property_filters(sql: Renderer, filters: Sequence[PropertyFilter]) -> exp.Expr | None:
    """Every filter must match; within one, any of its values (over the table ``e``)."""
    parts = [property_filter(sql, f) for f in filters]
    return exp.and_(*parts, copy=False) if parts else None


def property_filter(sql: Renderer, spec: PropertyFilter) -> exp.Expr:
    """Text fields match their stored text (``event_version`` as ``"1"``, null a missing
    value); lists match when any element does (null: an empty list); ``value`` matches
    equal numbers; ``timestamp`` the millisecond each value names, as responses show it."""
    if spec.property == "value":
        numbers = [sql.bind(number, "double") for number in spec.numbers()]
        if not numbers:
            return exp.false()
        return exp.In(this=column("value"), expressions=numbers)
    if spec.property == "timestamp":
        spans: list[exp.Expr] = []
        for instant in spec.instants():
            start = naive_utc(instant)
            spans.append(
                exp.and_(
                    exp.GTE(this=column("timestamp"), expression=sql.bind(start, "timestamp")),
                    exp.LT(
                        this=column("timestamp"),
                        expression=sql.bind(start + MILLISECOND, "timestamp"),
                    ),
                    copy=False,
                )
            )
        return exp.or_(*spans, copy=False) if spans else exp.false()
    node = InFilter.model_validate(
        {"type": "in", "dimension": spec.property, "values": spec.values}
    )
    return exp.Paren(this=sql.filter(node))
