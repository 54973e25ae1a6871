"""The funnel chart as aggregate SQL over the path rule, and the answer built from its rows.

Every number is counted over the *chart's events*: the step events the path rule lets
through (:func:`~tallybook.funnels.paths.judged_step_events`, each judged at its own step,
in one read of the table), narrowed by ``filters`` — for each step exactly the rows step
source data returns. Two plans, each a
:class:`~tallybook.events.query.render.RelationPlan`:

- :class:`ChartStepsPlan` — the distinct ``dim5`` of the workflow's step events (cheap:
  nothing is judged), so that the chart knows which consecutive steps to link.
- :class:`ChartPlan` — one statement over the chart's events as a common table
  expression: per step and per action the events, distinct visitors and sessions and the
  step's name (the least ``dim4``) by ``GROUP BY GROUPING SETS``, and the Sankey links:
  per session, step and action the first and last chart event, joined to itself over the
  session from step k to step k + 1 where the later step's last event is not before the
  earlier one's first.

Only the aggregates leave the store. A ``dim5`` that is not a step index as the step
endpoint spells it (``0``, ``1``, … without leading zeros) is no step of the chart: its
group is dropped here, as the step endpoint never returns it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from sqlglot import exp

from tallybook.events.query.dialects import data_type
from tallybook.events.query.render import Renderer, column, event_table
from tallybook.funnels.paths import StepPath, WorkflowScope, judged_step_events
from tallybook.funnels.plans import property_filters
from tallybook.funnels.schemas import PropertyFilter

STEP_TEXT: Final = re.compile(r"0|[1-9][0-9]{0,8}")
"""``dim5`` as the step endpoint reads it (``service.STEP_INDEX``, then ``str(int(…))``)."""

PER_ACTION: Final = 0
PER_STEP: Final = 1  # GROUPING(action) of the per-step rows
LINK: Final = 2

_CHART_CTE: Final = "chart"
_CHART: Final = "c"
_SPANS: Final = "s"
_SPANS_CTE: Final = "spans"
_ROWS: Final = "r"
_FROM: Final = "x"
_TO: Final = "y"


@dataclass(frozen=True)
class ChartEvents:
    """The chart's events: the workflow's scope, the path of ``step_data``, ``filters``."""

    scope: WorkflowScope
    path: StepPath
    filters: tuple[PropertyFilter, ...] = ()

    def relation(
        self, sql: Renderer, columns: Sequence[str], steps: Sequence[int] | None = None
    ) -> exp.Select:
        """``SELECT columns`` of the chart's events (of ``steps`` only, if given), in one
        read of the table (:func:`~tallybook.funnels.paths.judged_step_events`)."""
        return judged_step_events(
            sql,
            self.scope,
            self.path,
            columns=columns,
            condition=property_filters(sql, self.filters),
            steps=steps,
        )


def _of(alias: str, name: str) -> exp.Column:
    return exp.column(name, table=alias, quoted=True)


@dataclass(frozen=True)
class ChartStepsPlan:
    """Rows ``(dim5,)``: the distinct ``dim5`` of the workflow's step events in the
    interval, the path and filters aside. Cheap (no event leaves the store, nothing is
    judged); :class:`ChartPlan` links the consecutive steps among them."""

    scope: WorkflowScope

    def select(self, sql: Renderer) -> exp.Select:
        return (
            exp.select(column("dim5"), copy=False)
            .distinct(copy=False)
            .from_(event_table(), copy=False)
            .where(self.scope.step_events(sql), copy=False)
        )


@dataclass(frozen=True)
class ChartPlan:
    """The chart in one statement over the chart's events, read once as the common table
    expression ``chart`` (an engine materialises a CTE that is read twice). Rows
    ``(part, from dim5, from action, to dim5, to action, events, visitors, sessions,
    name)``:

    - part :data:`PER_ACTION` and :data:`PER_STEP`: events, distinct visitors and
      sessions and the least ``dim4`` per step and action, and per step (``action``
      null), from one ``GROUP BY GROUPING SETS ((dim5), (dim5, action))``;
    - part :data:`LINK`: the Sankey links, sessions (in each count column) from ``from
      action`` at step k to ``to action`` at step k + 1 whose last event there is not
      before their first at k:
      per session, step and action the first and last chart event (``spans``), joined to
      itself, for each pair of consecutive steps in ``steps``.
    """

    events: ChartEvents
    steps: tuple[int, ...] = ()

    def pairs(self) -> list[int]:
        """The steps k whose next step k + 1 is also in ``steps``."""
        present = set(self.steps)
        return sorted(k for k in present if k + 1 in present)

    def select(self, sql: Renderer) -> exp.Select:
        chart = self.events.relation(
            sql, ("dim5", "action", "dim4", "visitor_id", "session_id", "timestamp")
        )
        parts: exp.Query = self._counts()
        froms = self.pairs()
        select = exp.select(exp.Star(), copy=False).with_(_CHART_CTE, as_=chart, copy=False)
        if froms:
            select = select.with_(_SPANS_CTE, as_=self._spans(sql, froms), copy=False)
            parts = exp.union(parts, self._links(sql, froms), distinct=False, copy=False)
        return select.from_(parts.subquery(_ROWS, copy=False), copy=False)

    def _counts(self) -> exp.Select:
        step, action = _of(_CHART, "dim5"), _of(_CHART, "action")
        sets = exp.GroupingSets(
            expressions=[
                exp.Paren(this=step.copy()),
                exp.Tuple(expressions=[step.copy(), action.copy()]),
            ]
        )
        return (
            exp.select(
                exp.Grouping(expressions=[action.copy()]).as_("part", quoted=True),
                step.copy(),
                action.copy(),
                _null("text").as_("to_dim5", quoted=True),
                _null("text").as_("to_action", quoted=True),
                exp.Count(this=exp.Star()),
                exp.Count(this=exp.Distinct(expressions=[_of(_CHART, "visitor_id")])),
                exp.Count(this=exp.Distinct(expressions=[_of(_CHART, "session_id")])),
                exp.Min(this=_of(_CHART, "dim4")),
                copy=False,
            )
            .from_(exp.to_table(_CHART_CTE).as_(_CHART), copy=False)
            .group_by(sets, copy=False)
        )

    def _links(self, sql: Renderer, froms: list[int]) -> exp.Select:
        following = exp.Case(this=_of(_FROM, "dim5"))
        for k in froms:
            following = following.when(sql.text(str(k)), sql.text(str(k + 1)), copy=False)
        on = exp.and_(
            exp.EQ(this=_of(_TO, "session_id"), expression=_of(_FROM, "session_id")),
            exp.EQ(this=_of(_TO, "dim5"), expression=following),
            exp.GTE(this=_of(_TO, "last"), expression=_of(_FROM, "first")),
            copy=False,
        )
        keys = [_of(_FROM, "dim5"), _of(_FROM, "action"), _of(_TO, "dim5"), _of(_TO, "action")]
        # (session, step, action) is unique in each side, so each row counts one session.
        # The three count columns all hold it: a count, not a typed null, is the same type
        # as the counts' column in every engine (ClickHouse has no common type for its
        # unsigned counts and a signed null).
        return (
            exp.select(
                exp.Literal.number(LINK),
                *[k.copy() for k in keys],
                exp.Count(this=exp.Star()),
                exp.Count(this=exp.Star()),
                exp.Count(this=exp.Star()),
                _null("text"),
                copy=False,
            )
            .from_(exp.to_table(_SPANS_CTE).as_(_FROM), copy=False)
            .join(exp.to_table(_SPANS_CTE).as_(_TO), on=on, copy=False)
            .group_by(*keys, copy=False)
        )

    def _spans(self, sql: Renderer, froms: list[int]) -> exp.Select:
        """Per session, step and action of the linked steps: its first and last chart
        event (read once, as a common table expression both sides of the join use)."""
        steps = sorted({*froms, *(k + 1 for k in froms)})
        keys = [_of(_SPANS, name) for name in ("session_id", "dim5", "action")]
        where = exp.and_(
            exp.Not(this=exp.Is(this=keys[0].copy(), expression=exp.Null())),
            exp.In(this=keys[1].copy(), expressions=[sql.text(str(k)) for k in steps]),
            copy=False,
        )
        return (
            exp.select(
                *[k.copy() for k in keys],
                exp.Min(this=_of(_SPANS, "timestamp")).as_("first", quoted=True),
                exp.Max(this=_of(_SPANS, "timestamp")).as_("last", quoted=True),
                copy=False,
            )
            .from_(exp.to_table(_CHART_CTE).as_(_SPANS), copy=False)
            .where(where, copy=False)
            .group_by(*keys, copy=False)
        )


def _null(kind: str) -> exp.Expr:
    """A typed null, so every engine agrees on the column types of the union."""
    return exp.Cast(this=exp.Null(), to=data_type(kind))


# -- the answer ---------------------------------------------------------------------------


def step_index(dim5: Any) -> int | None:
    """The step a ``dim5`` names, or None when the step endpoint would never return it."""
    return int(dim5) if isinstance(dim5, str) and STEP_TEXT.fullmatch(dim5) else None


def chart_steps(rows: Sequence[tuple[Any, ...]]) -> list[dict[str, Any]]:
    """The ``steps`` of the answer from the rows of :class:`ChartPlan`."""
    actions: dict[int, list[dict[str, Any]]] = {}
    totals: dict[int, tuple[Any, ...]] = {}
    for part, dim5, action, _to, _to_action, events, visitors, sessions, name in rows:
        index = step_index(dim5)
        if index is None or int(part) == LINK:
            continue
        if int(part) == PER_STEP:
            totals[index] = (events, visitors, sessions, name)
        else:
            actions.setdefault(index, []).append(
                {
                    "action": action,
                    "events": int(events),
                    "visitors": int(visitors),
                    "sessions": int(sessions),
                }
            )
    base = int(totals[0][2]) if 0 in totals else 0
    steps = []
    for index in sorted(totals):
        events, visitors, sessions, name = totals[index]
        steps.append(
            {
                "index": index,
                "name": name,
                "events": int(events),
                "visitors": int(visitors),
                "sessions": int(sessions),
                "conversion": int(sessions) / base if base else None,
                "actions": sorted(actions.get(index, []), key=_action_order),
            }
        )
    return steps


def chart_links(rows: Sequence[tuple[Any, ...]]) -> list[dict[str, Any]]:
    """The ``links`` of the answer from the rows of :class:`ChartPlan`."""
    links = [
        {
            "from_step": int(from_dim5),
            "from_action": from_action,
            "to_step": int(to_dim5),
            "to_action": to_action,
            "sessions": int(sessions),
        }
        for part, from_dim5, from_action, to_dim5, to_action, _e, _v, sessions, _n in rows
        if int(part) == LINK
    ]
    return sorted(
        links,
        key=lambda link: (
            link["from_step"],
            _nulls_first(link["from_action"]),
            _nulls_first(link["to_action"]),
        ),
    )


def _nulls_first(value: str | None) -> tuple[int, str]:
    return (0, "") if value is None else (1, value)


def _action_order(counts: dict[str, Any]) -> tuple[int, tuple[int, str]]:
    return (-counts["events"], _nulls_first(counts["action"]))
