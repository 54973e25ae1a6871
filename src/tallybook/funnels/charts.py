"""The funnel chart as aggregate SQL over the path rule, and the answer built from its rows.

Every number is counted over the *chart's events*: the step events the path rule lets
through (:func:`~tallybook.funnels.paths.judged_step_events`, each judged at its own step,
in one read of the table), narrowed by ``filters`` — for each step exactly the rows step
source data returns. :class:`ChartPlan` is one statement (one round trip to the event
store) over the chart's events as a common table expression, reduced twice before any
counting:

- ``per_session``: one row per step, action and session (its events, first and last
  event, least ``dim4``). The sessions per action are its rows, the sessions per step
  its distinct sessions, and the Sankey links join it to itself over the session, from
  step k to step k + 1 where the later step's last event is not before the earlier one's
  first;
- ``per_visitor``: one row per step, action and visitor; the visitors per action are its
  rows, per step its distinct visitors.

Counting distinct sessions and visitors of the ~1 M grouped rows rather than of every
event is what makes the chart cheap: the two reductions are the only work that sees each
event. Only the aggregates leave the store. A ``dim5`` that is not a step index as the
step endpoint spells it (``0``, ``1``, … without leading zeros) is no step of the chart:
its groups are dropped here and it is never linked, as the step endpoint never returns it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from sqlglot import exp

from tallybook.events.query.dialects import data_type
from tallybook.events.query.render import Renderer
from tallybook.funnels.paths import (
    STEP_TEXT,
    StepPath,
    WorkflowScope,
    is_step_text,
    judged_step_events,
)
from tallybook.funnels.plans import property_filters
from tallybook.funnels.schemas import PropertyFilter

# The parts of ChartPlan's rows (its first column).
ACTION_SESSIONS: Final = 0
STEP_SESSIONS: Final = 1
ACTION_VISITORS: Final = 2
STEP_VISITORS: Final = 3
LINK: Final = 4

_CHART_CTE: Final = "chart"
_PER_SESSION: Final = "per_session"
_PER_VISITOR: Final = "per_visitor"
_FROM: Final = "x"
_TO: Final = "y"
_ROWS: Final = "r"


@dataclass(frozen=True)
class ChartEvents:
    """The chart's events: the workflow's scope, the path of ``step_data``, ``filters``."""

    scope: WorkflowScope
    path: StepPath
    filters: tuple[PropertyFilter, ...] = ()

    def relation(self, sql: Renderer, columns: Sequence[str]) -> exp.Query:
        """``SELECT columns`` of the chart's events, in one read of the table
        (:func:`~tallybook.funnels.paths.judged_step_events`)."""
        return judged_step_events(
            sql,
            self.scope,
            self.path,
            columns=columns,
            condition=property_filters(sql, self.filters),
        )


def _of(alias: str, name: str) -> exp.Column:
    return exp.column(name, table=alias, quoted=True)


@dataclass(frozen=True)
class ChartPlan:
    """The chart in one statement. Rows ``(part, dim5, action, to dim5, to action,
    events, count, name)``, ``part`` one of:

    - :data:`ACTION_SESSIONS` / :data:`STEP_SESSIONS`: per step and action (per step,
      ``action`` null) the events, distinct sessions and least ``dim4``;
    - :data:`ACTION_VISITORS` / :data:`STEP_VISITORS`: the distinct visitors in
      ``count`` (``events`` holds a count of no meaning, ``name`` null);
    - :data:`LINK`: sessions (in ``events`` and ``count``) from ``action`` at step k to
      ``to action`` at step k + 1 whose last event there is not before their first at k.
    """

    events: ChartEvents

    def select(self, sql: Renderer) -> exp.Select:
        chart = self.events.relation(
            sql, ("dim5", "action", "dim4", "visitor_id", "session_id", "timestamp")
        )
        if sql.dialect.hashed_keys:
            return _hashed_select(sql, chart)
        step, action = _of(_CHART_CTE, "dim5"), _of(_CHART_CTE, "action")
        per_session = (
            exp.select(
                step.copy(),
                action.copy(),
                _of(_CHART_CTE, "session_id"),
                *_session_aggregates(),
                copy=False,
            )
            .from_(_CHART_CTE, copy=False)
            .group_by(step.copy(), action.copy(), _of(_CHART_CTE, "session_id"), copy=False)
        )
        per_visitor = (
            exp.select(step.copy(), action.copy(), _of(_CHART_CTE, "visitor_id"), copy=False)
            .from_(_CHART_CTE, copy=False)
            .group_by(step.copy(), action.copy(), _of(_CHART_CTE, "visitor_id"), copy=False)
        )
        return _chart_rows(
            {_CHART_CTE: chart, _PER_SESSION: per_session, _PER_VISITOR: per_visitor},
            _counts(_PER_SESSION, ACTION_SESSIONS, "session_id", per_step=False),
            _counts(_PER_SESSION, STEP_SESSIONS, "session_id", per_step=True),
            _counts(_PER_VISITOR, ACTION_VISITORS, "visitor_id", per_step=False),
            _counts(_PER_VISITOR, STEP_VISITORS, "visitor_id", per_step=True),
            _links(),
        )


def _session_aggregates() -> list[exp.Expr]:
    """What ``per_session`` keeps of a session's events of one step and action: how many,
    the first and last instants, and the step's name."""
    return [
        exp.Count(this=exp.Star()).as_("n", quoted=True),
        exp.Min(this=_of(_CHART_CTE, "timestamp")).as_("first", quoted=True),
        exp.Max(this=_of(_CHART_CTE, "timestamp")).as_("last", quoted=True),
        exp.Min(this=_of(_CHART_CTE, "dim4")).as_("name", quoted=True),
    ]


def _counts(table: str, part: int, key: str, *, per_step: bool) -> exp.Select:
    """Per step and action of ``table`` (one row per step, action and ``key``): its rows
    with a ``key`` are the distinct keys; per step, the distinct keys of its rows."""
    step, action = _of(table, "dim5"), _of(table, "action")
    counted: exp.Expr = _of(table, key)
    if per_step:
        counted = exp.Distinct(expressions=[counted])
    sessions = table == _PER_SESSION
    values = (
        exp.Literal.number(part),
        step.copy(),
        _null("text") if per_step else action.copy(),
        _null("text"),
        _null("text"),
        exp.Sum(this=_of(table, "n")) if sessions else exp.Count(this=exp.Star()),
        exp.Count(this=counted),
        exp.Min(this=_of(table, "name")) if sessions else _null("text"),
    )
    select = exp.select(*_named(values), copy=False).from_(table, copy=False)
    return select.group_by(step.copy(), *([] if per_step else [action.copy()]), copy=False)


def _links() -> exp.Select:
    """Sessions from each action at step k to each at k + 1 (``per_session`` joined to
    itself over the session; (session, step, action) is unique on each side, so each
    joined row is one session). Only a ``dim5`` spelled as a step index has a next step.
    Each side names its columns apart from the other's."""
    earlier = _of(_FROM, "from_dim5")
    following = exp.Case(
        ifs=[
            exp.If(
                this=is_step_text(earlier.copy()),
                true=exp.Cast(
                    this=exp.Add(
                        this=exp.Cast(this=earlier.copy(), to=data_type("bigint")),
                        expression=exp.Literal.number(1),
                    ),
                    to=data_type("text"),
                ),
            )
        ]
    )
    on = exp.and_(
        exp.EQ(this=_of(_TO, "to_session"), expression=_of(_FROM, "from_session")),
        exp.EQ(this=_of(_TO, "to_dim5"), expression=following),
        exp.GTE(this=_of(_TO, "last"), expression=_of(_FROM, "first")),
        copy=False,
    )
    keys = [
        _of(_FROM, "from_dim5"),
        _of(_FROM, "from_action"),
        _of(_TO, "to_dim5"),
        _of(_TO, "to_action"),
    ]
    # The count in both count columns: a count, not a typed null, is the same type as the
    # counts' columns in every engine (ClickHouse has no common type for its unsigned
    # counts and a signed null).
    values = (
        exp.Literal.number(LINK),
        *[k.copy() for k in keys],
        exp.Count(this=exp.Star()),
        exp.Count(this=exp.Star()),
        _null("text"),
    )
    return (
        exp.select(*_named(values), copy=False)
        .from_(_side("from", "first").subquery(_FROM, copy=False), copy=False)
        .join(_side("to", "last").subquery(_TO, copy=False), on=on, copy=False)
        .group_by(*keys, copy=False)
    )


def _side(prefix: str, instant: str) -> exp.Select:
    """``per_session``'s session, step, action (named ``<prefix>_…``) and ``instant``."""
    return exp.select(
        *[
            _of(_PER_SESSION, name).as_(f"{prefix}_{short}", quoted=True)
            for name, short in (("session_id", "session"), ("dim5", "dim5"), ("action", "action"))
        ],
        _of(_PER_SESSION, instant),
        copy=False,
    ).from_(_PER_SESSION, copy=False)


def _hashed_select(sql: Renderer, chart: exp.Query) -> exp.Select:
    """:meth:`ChartPlan.select` for an engine with ``hashed_keys`` (ClickHouse), the same
    rows in fewer and cheaper reductions:

    - ``per_session`` holds only the step indexes (as integers) and its session is
      :meth:`~tallybook.events.query.dialects.Dialect.key_hash` of the session id: it is
      grouped, counted, and joined to itself for the links on fixed-width keys;
    - the visitors need no per-visitor rows: ``per_action`` keeps, per step and action,
      the state of a distinct count of its visitors (``uniqExactState``), counted as it
      is per action and merged per step.

    On the 10 M-event benchmark store this took about a third less CPU than the plain
    form (docs/performance.md). A ``dim5`` that is not a step index has no
    ``per_session`` rows (its groups were dropped from the answer anyway)."""
    dialect = sql.dialect
    dim5, action = _of(_CHART_CTE, "dim5"), _of(_CHART_CTE, "action")
    step = dialect.step_number(dim5.copy())
    session = dialect.key_hash(_of(_CHART_CTE, "session_id"))
    is_step = is_step_text(dim5.copy())
    per_session = (
        exp.select(
            step.copy().as_(_STEP, quoted=True),
            action.copy(),
            session.copy().as_(_SESSION, quoted=True),
            *_session_aggregates(),
            copy=False,
        )
        .from_(_CHART_CTE, copy=False)
        .where(is_step, copy=False)
        .group_by(step, action.copy(), session, copy=False)
    )
    per_action = (
        exp.select(
            dim5.copy(),
            action.copy(),
            exp.Count(this=exp.Star()).as_("n", quoted=True),
            dialect.distinct_state(_of(_CHART_CTE, "visitor_id")).as_(_VISITORS, quoted=True),
            copy=False,
        )
        .from_(_CHART_CTE, copy=False)
        .group_by(dim5.copy(), action.copy(), copy=False)
    )
    return _chart_rows(
        {_CHART_CTE: chart, _PER_SESSION: per_session, _PER_ACTION: per_action},
        _session_counts(per_step=False),
        _session_counts(per_step=True),
        _visitor_counts(sql, per_step=False),
        _visitor_counts(sql, per_step=True),
        _hashed_links(),
    )


def _chart_rows(ctes: dict[str, exp.Query], *parts: exp.Query) -> exp.Select:
    """``SELECT * FROM (the parts' rows, one UNION ALL)`` over the named CTEs: the one
    statement of a chart, in either form."""
    rows = exp.union(*parts, distinct=False, copy=False)
    statement = exp.select(exp.Star(), copy=False)
    for name, cte in ctes.items():
        statement = statement.with_(name, as_=cte, copy=False)
    return statement.from_(rows.subquery(_ROWS, copy=False), copy=False)


_STEP: Final = "step"
_SESSION: Final = "session_key"
_PER_ACTION: Final = "per_action"
_VISITORS: Final = "visitors"


def _as_text(value: exp.Expr) -> exp.Expr:
    return exp.Cast(this=value, to=data_type("text"))


def _session_counts(*, per_step: bool) -> exp.Select:
    """:data:`ACTION_SESSIONS` or :data:`STEP_SESSIONS` rows of the hashed
    ``per_session``."""
    step, action = _of(_PER_SESSION, _STEP), _of(_PER_SESSION, "action")
    counted: exp.Expr = _of(_PER_SESSION, _SESSION)
    if per_step:
        counted = exp.Distinct(expressions=[counted])
    values = (
        exp.Literal.number(STEP_SESSIONS if per_step else ACTION_SESSIONS),
        _as_text(step.copy()),
        _null("text") if per_step else action.copy(),
        _null("text"),
        _null("text"),
        exp.Sum(this=_of(_PER_SESSION, "n")),
        exp.Count(this=counted),
        exp.Min(this=_of(_PER_SESSION, "name")),
    )
    select = exp.select(*_named(values), copy=False).from_(_PER_SESSION, copy=False)
    return select.group_by(step.copy(), *([] if per_step else [action.copy()]), copy=False)


def _visitor_counts(sql: Renderer, *, per_step: bool) -> exp.Select:
    """:data:`ACTION_VISITORS` rows (each ``per_action`` row's state counted) or
    :data:`STEP_VISITORS` rows (a step's states merged)."""
    dim5, action = _of(_PER_ACTION, "dim5"), _of(_PER_ACTION, "action")
    state = _of(_PER_ACTION, _VISITORS)
    events: exp.Expr = _of(_PER_ACTION, "n")
    values = (
        exp.Literal.number(STEP_VISITORS if per_step else ACTION_VISITORS),
        dim5.copy(),
        _null("text") if per_step else action.copy(),
        _null("text"),
        _null("text"),
        exp.Sum(this=events) if per_step else events,
        sql.dialect.state_count(state, merged=per_step),
        _null("text"),
    )
    select = exp.select(*_named(values), copy=False).from_(_PER_ACTION, copy=False)
    return select.group_by(dim5.copy(), copy=False) if per_step else select


def _hashed_links() -> exp.Select:
    """:func:`_links` over the hashed ``per_session``: the step k + 1 of an integer step
    is a sum, and the sessions are compared as their hashes."""
    on = exp.and_(
        exp.EQ(this=_of(_TO, _SESSION), expression=_of(_FROM, _SESSION)),
        exp.EQ(
            this=_of(_TO, _STEP),
            expression=exp.Add(this=_of(_FROM, _STEP), expression=exp.Literal.number(1)),
        ),
        exp.GTE(this=_of(_TO, "last"), expression=_of(_FROM, "first")),
        copy=False,
    )
    keys = [_of(_FROM, _STEP), _of(_FROM, "action"), _of(_TO, _STEP), _of(_TO, "action")]
    values = (
        exp.Literal.number(LINK),
        _as_text(keys[0].copy()),
        keys[1].copy(),
        _as_text(keys[2].copy()),
        keys[3].copy(),
        exp.Count(this=exp.Star()),
        exp.Count(this=exp.Star()),
        _null("text"),
    )
    return (
        exp.select(*_named(values), copy=False)
        .from_(exp.to_table(_PER_SESSION).as_(_FROM, quoted=True), copy=False)
        .join(exp.to_table(_PER_SESSION).as_(_TO, quoted=True), on=on, copy=False)
        .group_by(*keys, copy=False)
    )


_COLUMNS: Final = ("part", "dim5", "action", "to_dim5", "to_action", "events", "count", "name")


def _named(values: Sequence[exp.Expr]) -> list[exp.Expr]:
    """The columns of a part, each named: ClickHouse matched the columns of a union by
    name, so two unnamed ``CAST(NULL AS …)`` in one part were taken for the same column."""
    return [value.as_(name, quoted=True) for value, name in zip(values, _COLUMNS, strict=True)]


def _null(kind: str) -> exp.Expr:
    """A typed null, so every engine agrees on the column types of the union."""
    return exp.Cast(this=exp.Null(), to=data_type(kind))


# -- the answer ---------------------------------------------------------------------------


def step_index(dim5: Any) -> int | None:
    """The step a ``dim5`` names, or None when the step endpoint would never return it."""
    return int(dim5) if isinstance(dim5, str) and STEP_TEXT.fullmatch(dim5) else None


def chart_steps(rows: Sequence[tuple[Any, ...]]) -> list[dict[str, Any]]:
    """The ``steps`` of the answer from the rows of :class:`ChartPlan`."""
    actions: dict[int, dict[str | None, dict[str, Any]]] = {}
    totals: dict[int, dict[str, Any]] = {}
    for part, dim5, action, _to, _to_action, events, count, name in rows:
        index, part = step_index(dim5), int(part)
        if index is None or part == LINK:
            continue
        if part in (STEP_SESSIONS, STEP_VISITORS):
            counts = totals.setdefault(index, {"index": index})
        else:
            counts = actions.setdefault(index, {}).setdefault(action, {"action": action})
        if part in (STEP_SESSIONS, ACTION_SESSIONS):
            counts.update(events=int(events), sessions=int(count), name=name)
        else:
            counts["visitors"] = int(count)
    base = totals[0]["sessions"] if 0 in totals else 0
    steps = []
    for index in sorted(totals):
        step = totals[index]
        steps.append(
            {
                "index": index,
                "name": step["name"],
                "events": step["events"],
                "visitors": step["visitors"],
                "sessions": step["sessions"],
                "conversion": step["sessions"] / base if base else None,
                "actions": sorted(
                    (
                        {key: counts[key] for key in ("action", "events", "visitors", "sessions")}
                        for counts in actions.get(index, {}).values()
                    ),
                    key=_action_order,
                ),
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
        for part, from_dim5, from_action, to_dim5, to_action, _events, sessions, _name in rows
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
