"""Which events count for a workflow's funnel: DESIGN §7's rules as sqlglot relations.

The entry points, each a SELECT over the event table built with the caller's
:class:`~tallybook.events.query.render.Renderer` (so one statement binds its parameters in
one place and every engine's dialect renders it):

- :func:`qualifying_step_events` — the path rule: the events of a step (or of every step)
  that the chart shows. The funnel chart counts these; step source data lists them.
- :func:`triggered_goal_events` — goal events of the sessions that reached a step, at or
  after their first qualifying event of it.
- :func:`affected_goal_events` — goal events of visitors who had a qualifying event of the
  workflow at or before the goal.
- :func:`all_goal_events` — every goal event of the organisation.

Every read of the table is confined to the organisation and the interval inside the SQL
(:class:`WorkflowScope`). Each read aliases the table ``e`` inside its own SELECT and the
SELECTs are joined as derived tables over the session (or the visitor), so nothing is
correlated and no event leaves the store to be filtered.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlglot import exp

from tallybook.events.query.dialects import data_type
from tallybook.events.query.plan import aware_utc, naive_utc
from tallybook.events.query.render import Renderer, column, event_table
from tallybook.workflows.types import WorkflowType

STEP_TEXT: Final = re.compile(r"0|[1-9][0-9]{0,8}")
"""``dim5`` as the step endpoint reads it (``service.STEP_INDEX``, then ``str(int(…))``):
a step event's ``dim5`` spelled otherwise (``"03"``, ``"not-a-step"``) is of no step."""
_STEP_PATTERN: Final = f"^({STEP_TEXT.pattern})$"


def is_step_text(dim5: exp.Expr) -> exp.Expr:
    """SQL: ``dim5`` reads as a step index (:data:`STEP_TEXT`)."""
    return exp.RegexpLike(this=dim5, expression=exp.Literal.string(_STEP_PATTERN))


PATH_TYPES: Final = frozenset({WorkflowType.WEB_NAVIGATION, WorkflowType.INTERACTION})
"""Workflow types whose ``step_data`` chooses actions and a path (the others ignore it)."""
GOAL_CATEGORY: Final = "goal"

_PASSED: Final = "p"  # per session: when it first passed each listed step
_FIRST: Final = "f"  # per session or visitor: its first qualifying event
_QUALIFYING: Final = "q"
_KEY: Final = "_k"
_FIRST_AT: Final = "_t"
_EVENTS: Final = event_table().alias  # what every column() refers to


@dataclass(frozen=True)
class WorkflowScope:
    """The events a workflow report may read: one organisation, one interval ``[start,
    end)``, and for step events, one workflow (events whose ``label`` is its id)."""

    organization_id: uuid.UUID
    workflow_id: uuid.UUID
    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", aware_utc(self.start))
        object.__setattr__(self, "end", aware_utc(self.end))
        if self.end <= self.start:
            raise ValueError("the interval's end must be after its start")

    def events(self, sql: Renderer) -> exp.Expr:
        """The organisation's events in the interval."""
        return exp.and_(
            exp.EQ(
                this=column("organization_id"), expression=sql.bind(self.organization_id, "uuid")
            ),
            exp.GTE(
                this=column("timestamp"), expression=sql.bind(naive_utc(self.start), "timestamp")
            ),
            exp.LT(this=column("timestamp"), expression=sql.bind(naive_utc(self.end), "timestamp")),
            copy=False,
        )

    def step_events(self, sql: Renderer) -> exp.Expr:
        """The workflow's step events in the interval: ``label`` is the workflow's id and
        ``dim5`` holds a step index."""
        return exp.and_(
            self.events(sql),
            exp.EQ(this=column("label"), expression=sql.text(str(self.workflow_id))),
            exp.Not(this=exp.Is(this=column("dim5"), expression=exp.Null())),
            copy=False,
        )

    def goal_events(self, sql: Renderer) -> exp.Expr:
        return exp.and_(
            self.events(sql),
            exp.EQ(this=column("category"), expression=sql.text(GOAL_CATEGORY)),
            copy=False,
        )


@dataclass(frozen=True)
class StepPath:
    """The chart's path: ``actions[k]`` are the actions that count at step k; an empty
    tuple (or a step past the end) counts every action. Step 0, the source, never has a
    list (seed 001: its ``step_data`` is not used)."""

    actions: tuple[tuple[str, ...], ...] = ()

    @classmethod
    def of(cls, workflow_type: str, steps: Iterable[Sequence[str] | None] | None) -> StepPath:
        """``step_data`` as the workflow's type reads it: only web navigation and
        interaction workflows have paths; the others ignore it."""
        if steps is None or workflow_type not in PATH_TYPES:
            return cls()
        listed = [tuple(dict.fromkeys(actions or ())) for actions in steps]
        if listed:
            listed[0] = ()
        while listed and not listed[-1]:
            listed.pop()
        return cls(tuple(listed))

    def listed(self, step: int) -> tuple[str, ...]:
        return self.actions[step] if 0 < step < len(self.actions) else ()

    def required_before(self, step: int) -> list[int]:
        """The earlier steps k ≥ 1 a session must have passed to count at ``step``."""
        return [k for k in range(1, min(step, len(self.actions))) if self.actions[k]]

    @property
    def last(self) -> int:
        """The last step with a list of actions (0: none has one)."""
        return len(self.actions) - 1 if self.actions else 0


def qualifying_step_events(
    sql: Renderer,
    scope: WorkflowScope,
    path: StepPath,
    *,
    step: int | None,
    columns: Sequence[str],
    condition: exp.Expr | None = None,
) -> exp.Select:
    """``SELECT columns`` of the events of ``step`` (None: of every step, each judged as
    an event of its own step) that the path lets through, DESIGN §7:

    - at a step with listed actions, only those actions count;
    - the event's session must have had, at or before it, an event with a listed action
      of every earlier step k ≥ 1 that lists actions.

    ``condition`` (over the table ``e``) narrows the events returned but not the earlier
    steps they are judged by. Earlier steps are read from the same interval. The
    sessions' passes are one GROUP BY over the session, LEFT JOINed to the events.
    """
    required = sorted({k for s in _steps_of(path, step) for k in path.required_before(s)})
    conditions = [scope.step_events(sql)]
    if step is not None:
        conditions.append(exp.EQ(this=column("dim5"), expression=sql.text(str(step))))
        conditions.append(_counts_at(sql, path, step))
    elif path.last:
        conditions.append(_counts_at_its_step(sql, path))
    if condition is not None:
        conditions.append(condition)
    select = exp.select(*(selected(name) for name in columns), copy=False).from_(
        event_table(), copy=False
    )
    if required:
        on = exp.EQ(this=exp.column(_KEY, table=_PASSED), expression=column("session_id"))
        select = select.join(
            _passes(sql, scope, path, required).subquery(_PASSED, copy=False),
            on=on,
            join_type="LEFT",
            copy=False,
        )
    return select.where(exp.and_(*conditions, copy=False), copy=False)


def judged_step_events(
    sql: Renderer,
    scope: WorkflowScope,
    path: StepPath,
    *,
    columns: Sequence[str],
    condition: exp.Expr | None = None,
) -> exp.Query:
    """:func:`qualifying_step_events` of every step, reading the
    table once: the sessions' passes are window aggregates over the session
    (``MIN(…) OVER (PARTITION BY session_id)``) in a derived table aliased ``e``, and the
    path rule and ``condition`` are applied over it. The funnel chart aggregates all of a
    workflow's step events, so one read beats a second read joined over the session.
    (Step source data keeps the join: there the read of the step's own events stops
    early under ``ORDER BY … LIMIT``, which a window over the session would prevent.)

    For a dialect whose windows sort every row they carry (``windows_sort_rows``:
    ClickHouse), the steps whose rule needs no earlier step (0 up to the first step with
    a list) are read apart, without the window, and ``UNION ALL``-ed to the others: the
    window then carries only the later steps' events and the first listed step's, which
    it reads the passes from (with the benchmark's sessions, 40 % of the events instead
    of all)."""
    required = sorted({k for s in _steps_of(path, None) for k in path.required_before(s)})
    narrowed: list[exp.Expr] = [] if condition is None else [condition]
    if not required:
        return qualifying_step_events(
            sql,
            scope,
            path,
            step=None,
            columns=columns,
            condition=exp.and_(*narrowed, copy=False) if narrowed else None,
        )
    needed = {*columns, "dim5", "action", "timestamp", "session_id"}
    for node in narrowed:
        needed.update(c.name for c in node.find_all(exp.Column) if c.table == _EVENTS)
    items: list[exp.Expr] = [column(name) for name in sorted(needed)]
    for k in required:
        hit = exp.and_(
            exp.EQ(this=column("dim5"), expression=sql.text(str(k))),
            sql.in_values(column("action"), path.listed(k)),
            exp.Not(this=exp.Is(this=column("session_id"), expression=exp.Null())),
            copy=False,
        )
        first = exp.Min(this=exp.Case(ifs=[exp.If(this=hit, true=column("timestamp"))]))
        over = exp.Window(this=first, partition_by=[column("session_id")], over="OVER")
        items.append(over.as_(f"_p{k}"))
    read = [scope.step_events(sql)]
    judged = [_counts_at_its_step(sql, path, passed=_EVENTS), *narrowed]
    free: list[int] = []  # steps whose rule reads no pass: 0 up to the first list
    if sql.dialect.windows_sort_rows:
        free = list(range(required[0] + 1))
        unread = [k for k in free if k not in required]  # the first list is read
        read.append(exp.Not(this=_dim5_in(sql, unread)))
        judged.insert(0, exp.Not(this=_dim5_in(sql, free)))
    inner = (
        exp.select(*items, copy=False)
        .from_(event_table(), copy=False)
        .where(exp.and_(*read, copy=False), copy=False)
    )
    window = (
        exp.select(*(selected(name) for name in columns), copy=False)
        .from_(inner.subquery(_EVENTS, copy=False), copy=False)
        .where(exp.and_(*judged, copy=False), copy=False)
    )
    if not free:
        return window
    rules = [
        exp.and_(
            exp.EQ(this=column("dim5"), expression=sql.text(str(k))),
            _counts_at(sql, path, k),
            copy=False,
        )
        for k in free
    ]
    apart = (
        exp.select(*(selected(name) for name in columns), copy=False)
        .from_(event_table(), copy=False)
        .where(
            exp.and_(
                scope.step_events(sql),
                exp.Paren(this=exp.or_(*rules, copy=False)),
                *[node.copy() for node in narrowed],
                copy=False,
            ),
            copy=False,
        )
    )
    return exp.union(apart, window, distinct=False, copy=False)


def _dim5_in(sql: Renderer, steps: Sequence[int]) -> exp.Expr:
    return exp.In(this=column("dim5"), expressions=[sql.text(str(k)) for k in steps])


def triggered_goal_events(
    sql: Renderer,
    scope: WorkflowScope,
    path: StepPath,
    *,
    step: int,
    columns: Sequence[str],
    condition: exp.Expr | None = None,
) -> exp.Select:
    """``SELECT columns`` of the goal events of the sessions with a qualifying event of
    ``step``, at or after the session's first one (DESIGN §7, ``triggered_goal``).
    ``condition`` (over the table ``e``) narrows the goal events."""
    reached = qualifying_step_events(
        sql, scope, path, step=step, columns=("session_id", "timestamp")
    )
    return _goals_after(sql, scope, reached, "session_id", columns, condition)


def affected_goal_events(
    sql: Renderer,
    scope: WorkflowScope,
    path: StepPath,
    *,
    columns: Sequence[str],
    condition: exp.Expr | None = None,
) -> exp.Select:
    """``SELECT columns`` of the goal events whose visitor had a qualifying event of the
    workflow (any step, judged by the path) at or before the goal (DESIGN §7,
    ``affected_goal``). ``condition`` (over the table ``e``) narrows the goal events."""
    reached = qualifying_step_events(
        sql,
        scope,
        path,
        step=None,
        columns=("visitor_id", "timestamp"),
        condition=is_step_text(column("dim5")),
    )
    return _goals_after(sql, scope, reached, "visitor_id", columns, condition)


def all_goal_events(
    sql: Renderer,
    scope: WorkflowScope,
    *,
    columns: Sequence[str],
    condition: exp.Expr | None = None,
) -> exp.Select:
    """``SELECT columns`` of every goal event of the organisation in the interval
    (``affected_goal_total``)."""
    conditions = [scope.goal_events(sql)]
    if condition is not None:
        conditions.append(condition)
    return (
        exp.select(*(selected(name) for name in columns), copy=False)
        .from_(event_table(), copy=False)
        .where(exp.and_(*conditions, copy=False), copy=False)
    )


# -- the pieces ---------------------------------------------------------------------------


def selected(name: str) -> exp.Expr:
    """An event column as a relation returns it, under its own name; the organisation's
    UUID comes as text (drivers build a UUID object per row otherwise, which is a third of
    the time of fetching a million rows in DuckDB)."""
    if name == "organization_id":
        return exp.Cast(this=column(name), to=data_type("text")).as_(name, quoted=True)
    return column(name)


def _steps_of(path: StepPath, step: int | None) -> list[int]:
    """The steps whose rule a query applies (None: all of them; one past the last list
    stands for every later step)."""
    return [step] if step is not None else list(range(path.last + 2))


def _counts_at(sql: Renderer, path: StepPath, step: int, passed: str = _PASSED) -> exp.Expr:
    """An event of ``step`` counts: its action is listed (if the step lists any) and its
    session passed every earlier listed step at or before it (``_p<k>`` of the relation
    ``passed``)."""
    parts: list[exp.Expr] = []
    listed = path.listed(step)
    if listed:
        parts.append(sql.in_values(column("action"), listed))
    for k in path.required_before(step):
        first = exp.column(f"_p{k}", table=passed)
        parts.append(exp.LTE(this=first, expression=column("timestamp")))
    return exp.and_(*parts, copy=False) if parts else exp.true()


def _counts_at_its_step(sql: Renderer, path: StepPath, passed: str = _PASSED) -> exp.Expr:
    """:func:`_counts_at` for an event of any step: a CASE on ``dim5`` over the steps up
    to the last list; every later step needs all the listed steps."""
    case = exp.Case(this=column("dim5"))
    for step in range(path.last + 1):
        case = case.when(sql.text(str(step)), _counts_at(sql, path, step, passed), copy=False)
    return exp.EQ(
        this=case.else_(_counts_at(sql, path, path.last + 1, passed), copy=False),
        expression=exp.true(),
    )


def _passes(sql: Renderer, scope: WorkflowScope, path: StepPath, steps: list[int]) -> exp.Select:
    """Per session: when it first had an event with a listed action of each of ``steps``
    (``_p<k>``, null if never), over the workflow's events in the interval."""
    items: list[exp.Expr] = [column("session_id").as_(_KEY)]
    for k in steps:
        hit = exp.and_(
            exp.EQ(this=column("dim5"), expression=sql.text(str(k))),
            sql.in_values(column("action"), path.listed(k)),
            copy=False,
        )
        first = exp.Min(this=exp.Case(ifs=[exp.If(this=hit, true=column("timestamp"))]))
        items.append(first.as_(f"_p{k}"))
    where = exp.and_(
        scope.step_events(sql),
        exp.In(this=column("dim5"), expressions=[sql.text(str(k)) for k in steps]),
        exp.Not(this=exp.Is(this=column("session_id"), expression=exp.Null())),
        copy=False,
    )
    return (
        exp.select(*items, copy=False)
        .from_(event_table(), copy=False)
        .where(where, copy=False)
        .group_by(column("session_id"), copy=False)
    )


def _goals_after(
    sql: Renderer,
    scope: WorkflowScope,
    reached: exp.Select,
    key: str,
    columns: Sequence[str],
    condition: exp.Expr | None,
) -> exp.Select:
    """Goal events whose ``key`` (session or visitor) appears in ``reached`` (a SELECT of
    ``key`` and ``timestamp``) no later than the goal."""
    reached_key = exp.column(key, table=_QUALIFYING, quoted=True)
    reached_at = exp.column("timestamp", table=_QUALIFYING, quoted=True)
    firsts = (
        exp.select(reached_key.as_(_KEY), exp.Min(this=reached_at).as_(_FIRST_AT), copy=False)
        .from_(reached.subquery(_QUALIFYING, copy=False), copy=False)
        .where(exp.Not(this=exp.Is(this=reached_key.copy(), expression=exp.Null())), copy=False)
        .group_by(reached_key.copy(), copy=False)
    )
    conditions = [
        scope.goal_events(sql),
        exp.GTE(this=column("timestamp"), expression=exp.column(_FIRST_AT, table=_FIRST)),
    ]
    if condition is not None:
        conditions.append(condition)
    on = exp.EQ(this=exp.column(_KEY, table=_FIRST), expression=column(key))
    return (
        exp.select(*(selected(name) for name in columns), copy=False)
        .from_(event_table(), copy=False)
        .join(firsts.subquery(_FIRST, copy=False), on=on, copy=False)
        .where(exp.and_(*conditions, copy=False), copy=False)
    )
