"""Event queries as typed plans, rendered to SQL per dialect with sqlglot.

A query is built once as a :class:`FetchPlan` and turned into a sqlglot expression tree;
only the few constructs that differ between engines (fixed-width time buckets, exploding a
multi-value dimension, LIKE escaping) come from the engine's :class:`Dialect`. Nothing from
a client becomes SQL text: dimension names come from the allow-list and every value is a
bound parameter, named ``p0``, ``p1``... in the order the renderer binds them; the scope's
parameters are also known by role (``organization_id``, ``vendor``, ``start``, ``end``), so
a cached rendering is reused by rebinding them by name.

Filter semantics: a filter matches or does not, never "unknown" — a comparison with a
missing (null) dimension is false, so ``not`` of it is true. On a multi-value dimension a
filter matches when any element does; ``selector`` with ``null`` matches an empty list.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Final, Protocol
from zoneinfo import ZoneInfo

from sqlglot import exp

from tallybook.events.query.columns import TEXT_OF_NON_TEXT
from tallybook.events.query.dialects import Dialect, DialectName, data_type, dialect_for
from tallybook.events.query.language import (
    AGGREGATIONS,
    DIMENSIONS,
    MULTI_VALUE_DIMENSIONS,
    SOURCES,
    AndFilter,
    BoundFilter,
    EventQuery,
    Filter,
    InFilter,
    LikeFilter,
    NotFilter,
    OrFilter,
    RegexFilter,
    SearchFilter,
    SelectorFilter,
)
from tallybook.events.query.plan import LOCAL_GRANULARITIES, FetchPlan, aware_utc, naive_utc
from tallybook.events.query.zones import OffsetChange, ZoneOffsets

Leaf = SelectorFilter | InFilter | RegexFilter | LikeFilter | SearchFilter | BoundFilter
TABLE: Final = "events"

_ALIAS: Final = "e"
_ELEMENT: Final = "_x"
_NUMBER_PATTERN: Final = "^[+-]?([0-9]+([.][0-9]*)?|[.][0-9]+)([eE][+-]?[0-9]+)?$"
_TRUNC_UNITS: Final = {
    "minute": "MINUTE",
    "hour": "HOUR",
    "day": "DAY",
    "week": "WEEK",
    "month": "MONTH",
    "year": "YEAR",
}
_FIXED_MINUTES: Final = {"fifteen_minute": 15, "thirty_minute": 30}
_FIXED_SECONDS: Final = {"minute": 60, "fifteen_minute": 900, "thirty_minute": 1800, "hour": 3600}
_VALUE_FUNCTIONS: Final[dict[str, type[exp.Func]]] = {
    "sum": exp.Sum,
    "min": exp.Min,
    "max": exp.Max,
    "avg": exp.Avg,
}


@dataclass(frozen=True, slots=True)
class Rendered:
    """SQL with its parameters by name."""

    sql: str
    params: dict[str, Any]


def render_fetch(plan: FetchPlan, dialect: DialectName | Dialect) -> Rendered:
    """``SELECT [bucket,] dims..., metrics... GROUP BY ... ORDER BY ...`` for one fetch.

    Rendering with sqlglot took longer than a one-day query itself, so the SQL of a query
    shape is rendered once and reused with this fetch's organisation, interval and UTC-offset
    changes bound in. The shape is the query and, for buckets, the offsets in seconds.
    """
    engine = dialect if isinstance(dialect, Dialect) else dialect_for(dialect)
    offsets = bucket_offsets(plan.granularity, plan.offsets)
    seconds = _offset_seconds(offsets)
    shape = plan.query.model_dump_json(include=_QUERY_FIELDS, warnings=False)
    key = (shape, seconds, engine)
    template = _FETCH_TEMPLATES.get(key)
    if template is None:
        template = _fetch_template(plan.query, offsets, engine)
        if len(_FETCH_TEMPLATES) >= _FETCH_TEMPLATES_MAX:
            _FETCH_TEMPLATES.clear()
        _FETCH_TEMPLATES[key] = template
    params = dict(template.rendered.params)
    slots = template.slots
    params[slots["organization_id"]] = plan.organization_id
    params[slots["start"]] = naive_utc(plan.start)
    params[slots["end"]] = naive_utc(plan.end)
    for index, change in enumerate(offsets.changes):
        params[slots[f"change{index}"]] = change.at
    return Rendered(template.rendered.sql, params)


_QUERY_FIELDS: Final = set(EventQuery.model_fields)
"""What of a query (or of a fetch request, which adds the interval) shapes its SQL."""
_FETCH_TEMPLATES: dict[tuple[str, tuple[int, ...], Dialect], _Template] = {}
_FETCH_TEMPLATES_MAX: Final = 4096
"""Shapes kept; past that the cache starts again (a race only renders a shape twice)."""


def _fetch_template(query: EventQuery, offsets: ZoneOffsets, dialect: Dialect) -> _Template:
    """The rendering of a shape, with placeholder values where a fetch binds its own."""
    placeholder = datetime(2000, 1, 1)
    changes = tuple(OffsetChange(placeholder, change.seconds) for change in offsets.changes)
    zone = ZoneInfo("UTC")  # rendering never reads the zone: the offsets carry it
    plan = FetchPlan(
        uuid.UUID(int=0),
        query,
        placeholder.replace(tzinfo=UTC),
        placeholder.replace(tzinfo=UTC),
        zone,
        ZoneOffsets(offsets.initial, changes),
    )
    sql = Renderer(dialect)
    return _Template(_render_fetch(plan, sql), sql.params.slots)


def bucket_offsets(granularity: str, offsets: ZoneOffsets) -> ZoneOffsets:
    """The UTC offsets the buckets depend on: none for ``all``, and none for buckets of a
    fixed width when every offset of the interval is a whole number of widths, since such
    local buckets start at the same instants as UTC ones (Helsinki's hours are UTC hours;
    at +05:30 only the quarter and half hours are). Shifting each row by a ``CASE`` of
    offsets, truncating and shifting back cost an hourly group_by over 30 days a quarter
    to a third of its time (see docs/performance.md)."""
    width = _FIXED_SECONDS.get(granularity)
    if granularity == "all" or (
        width is not None and all(seconds % width == 0 for seconds in _offset_seconds(offsets))
    ):
        return ZoneOffsets(0, ())
    return offsets


def _offset_seconds(offsets: ZoneOffsets) -> tuple[int, ...]:
    return (offsets.initial, *(change.seconds for change in offsets.changes))


def _render_fetch(plan: FetchPlan, sql: Renderer) -> Rendered:
    query = plan.query
    items: list[exp.Expr] = []
    keys: list[exp.Expr] = []
    if query.granularity != "all":
        items.append(sql.bucket(query.granularity, plan.offsets).as_("_b"))
        keys.append(exp.column("_b"))
    for index, dim in enumerate(query.group_by):
        items.append(sql.group_dimension(index, dim).as_(f"_g{index}"))
        keys.append(exp.column(f"_g{index}"))
    for index, name in enumerate(query.aggregations):
        items.append(aggregation(name).as_(f"_m{index}"))
    scope = sql.scope(plan.organization_id, query, plan.start, plan.end)
    select = exp.select(*items, copy=False).from_(sql.source(query.group_by, scope), copy=False)
    for join in sql.joins:
        select = select.join(join, copy=False)
    if not sql.scoped:
        select = select.where(scope, copy=False)
    if keys:
        ordered = [exp.Ordered(this=key.copy(), nulls_first=True) for key in keys]
        select = select.group_by(*keys, copy=False).order_by(*ordered, copy=False)
    else:
        count = exp.GT(this=exp.Count(this=exp.Star()), expression=_number(0))
        select = select.having(count, copy=False)
    return Rendered(sql.dialect.sql(select), sql.params.values)


def render_value(
    organization_id: uuid.UUID,
    query: EventQuery,
    start: datetime,
    end: datetime,
    field_name: str,
    dialect: DialectName | Dialect,
) -> Rendered:
    """``SELECT count, aggregation`` over ``[start, end)``: one number for a target.

    The worker asks this for every target every few minutes, so the SQL of a query shape
    is rendered once and reused with this call's organisation and interval bound in.
    """
    if field_name not in AGGREGATIONS:
        raise ValueError(f"'{field_name}' is not an aggregation")
    name = dialect.name if isinstance(dialect, Dialect) else dialect
    template = _value_template(query.model_dump_json(), field_name, name)
    params = dict(template.rendered.params)
    slots = template.slots
    params[slots["organization_id"]] = organization_id
    params[slots["start"]] = naive_utc(aware_utc(start))
    params[slots["end"]] = naive_utc(aware_utc(end))
    return Rendered(template.rendered.sql, params)


@dataclass(frozen=True, slots=True)
class _Template:
    """A rendering to reuse: ``slots`` names the parameter bound for each scope role."""

    rendered: Rendered
    slots: Mapping[str, str]


@lru_cache(maxsize=4096)
def _value_template(query_json: str, field_name: str, dialect: DialectName) -> _Template:
    query = EventQuery.model_validate_json(query_json)
    sql = Renderer(dialect)
    placeholder = datetime(2000, 1, 1, tzinfo=UTC)
    scope = sql.scope(uuid.UUID(int=0), query, placeholder, placeholder)
    select = (
        exp.select(
            exp.Count(this=exp.Star()).as_("_n"), aggregation(field_name).as_("_v"), copy=False
        )
        .from_(_table(), copy=False)
        .where(scope, copy=False)
    )
    return _Template(Rendered(sql.dialect.sql(select), sql.params.values), sql.params.slots)


def _table() -> exp.Table:
    return event_table()


def event_table() -> exp.Table:
    """``events AS e``: every column of :func:`column` refers to this alias. A statement
    that reads the table more than once aliases each read ``e`` inside its own SELECT and
    joins the SELECTs as derived tables, so the allow-listed columns stay unambiguous."""
    return exp.Table(
        this=exp.to_identifier(TABLE), alias=exp.TableAlias(this=exp.to_identifier(_ALIAS))
    )


class RelationPlan(Protocol):
    """A typed plan another domain builds over the event table (workflow reporting's, in
    :mod:`tallybook.funnels`): its SELECT as one sqlglot tree, built with a
    :class:`Renderer` so that values are bound parameters and engine differences come from
    the dialect. Rendered per engine by :func:`render_relation`; the plan itself must put
    the organisation into every read of the table."""

    def select(self, sql: Renderer) -> exp.Select: ...


def render_relation(plan: RelationPlan, dialect: DialectName | Dialect) -> Rendered:
    sql = Renderer(dialect)
    select = plan.select(sql)
    return Rendered(sql.dialect.sql(select), sql.params.values)


def aggregation(name: str) -> exp.Expr:
    if name == "count":
        return exp.Count(this=exp.Star())
    if name in _VALUE_FUNCTIONS:
        return _VALUE_FUNCTIONS[name](this=column("value"))
    if name.endswith("_uniq") and name in AGGREGATIONS:
        return exp.Count(this=exp.Distinct(expressions=[column(name.removesuffix("_uniq"))]))
    raise ValueError(f"'{name}' is not an aggregation")


def column(name: str) -> exp.Column:
    """A column of the event table; only allow-listed names ever reach SQL."""
    if name not in DIMENSIONS and name not in ("timestamp", "value"):
        raise ValueError(f"'{name}' is not an event column")
    return exp.column(name, table=_ALIAS, quoted=True)


def dimension_text(name: str) -> exp.Expr:
    """The text a filter compares and group_by returns for a scalar dimension."""
    if name in TEXT_OF_NON_TEXT:
        return exp.Cast(this=column(name), to=data_type("text"))
    return column(name)


def regex_patterns(node: Filter | None) -> list[str]:
    """Every regex pattern in a filter tree (an engine checks they compile)."""
    if node is None:
        return []
    if isinstance(node, RegexFilter):
        return [node.pattern]
    if isinstance(node, AndFilter | OrFilter):
        return [p for child in node.fields for p in regex_patterns(child)]
    if isinstance(node, NotFilter):
        return regex_patterns(node.field)
    return []


@dataclass
class _Params:
    """The bound parameters: ``p0``, ``p1``... in binding order; ``slots`` maps a role
    (such as ``start``) to the name of the parameter bound for it."""

    values: dict[str, Any] = field(default_factory=dict)
    slots: dict[str, str] = field(default_factory=dict)

    def __call__(self, value: Any, kind: str, *, role: str | None = None) -> exp.Placeholder:
        name = f"p{len(self.values)}"
        self.values[name] = value
        if role is not None:
            self.slots[role] = name
        return exp.Placeholder(this=name, kind=data_type(kind))


def _number(value: int) -> exp.Expr:
    return exp.Literal.number(value)


def _seconds(value: int) -> exp.Interval:
    return exp.Interval(this=exp.Literal.string(str(value)), unit=exp.var("SECOND"))


class Renderer:
    """Builds one statement: binds its parameters (``p0``, ``p1``...) and asks the dialect
    for what differs between engines. Filters, buckets and scopes of the fetch API come
    from here, and so do the pieces other plans reuse (:meth:`bind`, :meth:`text`,
    :meth:`filter`)."""

    def __init__(self, dialect: DialectName | Dialect) -> None:
        self.dialect = dialect if isinstance(dialect, Dialect) else dialect_for(dialect)
        self.params = _Params()
        self.joins: list[exp.Expr] = []
        self.scoped = False  # the scope is already applied inside a derived table

    def text(self, value: str) -> exp.Placeholder:
        return self.params(value, "text")

    def bind(self, value: Any, kind: str) -> exp.Placeholder:
        """``value`` as a parameter of the logical type ``kind`` (``text``, ``uuid``,
        ``timestamp`` as naive UTC, ``double``...)."""
        return self.params(value, kind)

    def scope(
        self, organization_id: uuid.UUID, query: EventQuery, start: datetime, end: datetime
    ) -> exp.Expr:
        """The rows a query may see: this organisation, vendor, sources and interval."""
        conditions: list[exp.Expr] = [
            exp.EQ(
                this=column("organization_id"),
                expression=self.params(organization_id, "uuid", role="organization_id"),
            ),
            exp.EQ(
                this=column("vendor"),
                expression=self.params(query.vendor, "text", role="vendor"),
            ),
            exp.GTE(
                this=column("timestamp"),
                expression=self.params(naive_utc(start), "timestamp", role="start"),
            ),
            exp.LT(
                this=column("timestamp"),
                expression=self.params(naive_utc(end), "timestamp", role="end"),
            ),
        ]
        if set(query.sources) != set(SOURCES):
            sources = [self.text(source) for source in query.sources]
            conditions.append(exp.In(this=column("source"), expressions=sources))
        if query.filters is not None:
            conditions.append(self.filter(query.filters))
        return exp.and_(*conditions, copy=False)

    # -- time buckets ---------------------------------------------------------------------

    def offset(self, offsets: ZoneOffsets) -> exp.Expr | None:
        if not offsets.changes:
            return _seconds(offsets.initial) if offsets.initial else None
        case = exp.Case()
        before = offsets.initial
        for index, change in enumerate(offsets.changes):
            at = self.params(change.at, "timestamp", role=f"change{index}")
            case = case.when(exp.LT(this=column("timestamp"), expression=at), _seconds(before))
            before = change.seconds
        return case.else_(_seconds(before))

    def bucket(self, granularity: str, offsets: ZoneOffsets) -> exp.Expr:
        """Local calendar buckets as naive local starts; shorter ones as naive UTC instants."""
        timestamp = column("timestamp")
        local_offset = self.offset(bucket_offsets(granularity, offsets))
        local = (
            timestamp if local_offset is None else exp.Add(this=timestamp, expression=local_offset)
        )
        if granularity in _FIXED_MINUTES:
            start = self.dialect.fixed_bucket(local, _FIXED_MINUTES[granularity])
        else:
            start = self.dialect.truncate(local, _TRUNC_UNITS[granularity])
        if granularity in LOCAL_GRANULARITIES or local_offset is None:
            return start
        return exp.Sub(this=start, expression=local_offset.copy())

    # -- group by -------------------------------------------------------------------------

    def source(self, group_by: Sequence[str], scope: exp.Expr) -> exp.Expr:
        """The rows to group: the event table, or one row per element of each multi-value
        group_by dimension (``_v<index>``; an empty list gives one null).

        The elements come from ``UNNEST`` in a projection, one derived table per dimension
        so that two of them multiply; a lateral join is several times slower in DuckDB.
        """
        source: exp.Expr = _table()
        if self.dialect.array_join:
            return source
        for index, name in enumerate(group_by):
            if name not in MULTI_VALUE_DIMENSIONS:
                continue
            values = column(name)
            empty = exp.EQ(this=self.array_size(values), expression=_number(0))
            nothing = exp.Cast(this=exp.Array(expressions=[exp.Null()]), to=data_type("text[]"))
            elements = exp.Case(ifs=[exp.If(this=empty, true=nothing)], default=values.copy())
            level = exp.select(
                exp.Column(this=exp.Star(), table=exp.to_identifier(_ALIAS)),
                exp.Unnest(expressions=[elements]).as_(f"_v{index}"),
                copy=False,
            ).from_(source, copy=False)
            if not self.scoped:
                level = level.where(scope, copy=False)
                self.scoped = True
            source = level.subquery(_ALIAS, copy=False)
        return source

    def group_dimension(self, index: int, name: str) -> exp.Expr:
        if name not in MULTI_VALUE_DIMENSIONS:
            return dimension_text(name)
        element = f"_v{index}"
        if self.dialect.array_join:
            elements = self.dialect.array_join_elements(column(name))
            self.joins.append(exp.Join(this=elements.as_(element), side="LEFT", kind="ARRAY"))
            return exp.column(element)
        return exp.column(element, table=_ALIAS)

    # -- filters --------------------------------------------------------------------------

    def filter(self, node: Filter, total: bool = False) -> exp.Expr:
        """``total``: under a ``not``, where a null leaf must count as false, not unknown."""
        if isinstance(node, AndFilter):
            return exp.and_(*(self.filter(child, total) for child in node.fields), copy=False)
        if isinstance(node, OrFilter):
            return exp.or_(*(self.filter(child, total) for child in node.fields), copy=False)
        if isinstance(node, NotFilter):
            return exp.Not(this=exp.Paren(this=self.filter(node.field, total=True)))
        if node.dimension in MULTI_VALUE_DIMENSIONS:
            return self.multi_value(node)
        predicate = self.predicate(node, dimension_text(node.dimension))
        if total and not _never_null(node):
            return exp.Coalesce(this=predicate, expressions=[exp.false()])
        return predicate

    def multi_value(self, node: Leaf) -> exp.Expr:
        values = column(node.dimension)
        empty = exp.EQ(this=self.array_size(values), expression=_number(0))
        if isinstance(node, SelectorFilter):
            if node.value is None:
                return empty
            return exp.ArrayContains(this=values, expression=self.text(str(node.value)))
        if isinstance(node, InFilter):
            texts = [v for v in node.values if v is not None]
            parts: list[exp.Expr] = []
            if texts:
                wanted = exp.Array(expressions=[self.text(str(v)) for v in texts])
                parts.append(self.overlaps(values, wanted))
            if len(texts) < len(node.values):
                parts.append(empty)
            return exp.or_(*parts, copy=False)
        element = exp.column(_ELEMENT)
        matches = exp.Lambda(
            this=self.predicate(node, element), expressions=[exp.to_identifier(_ELEMENT)]
        )
        matching = exp.ArrayFilter(this=values, expression=matches)
        return exp.GT(this=self.array_size(matching), expression=_number(0))

    def array_size(self, values: exp.Expr) -> exp.Expr:
        return self.dialect.array_size(values)

    def overlaps(self, values: exp.Expr, wanted: exp.Expr) -> exp.Expr:
        return self.dialect.overlaps(values, wanted)

    def predicate(self, node: Leaf, subject: exp.Expr) -> exp.Expr:
        """A leaf filter on one text value (a scalar dimension or one list element)."""
        if isinstance(node, SelectorFilter):
            if node.value is None:
                return exp.Is(this=subject, expression=exp.Null())
            return exp.EQ(this=subject, expression=self.text(str(node.value)))
        if isinstance(node, InFilter):
            return self.in_values(subject, node.values)
        if isinstance(node, RegexFilter):
            return exp.RegexpLike(this=subject, expression=self.text(node.pattern))
        if isinstance(node, LikeFilter):
            return self.dialect.like(exp.Like(this=subject, expression=self.text(node.pattern)))
        if isinstance(node, SearchFilter):
            return self.search(node, subject)
        if isinstance(node, BoundFilter):
            return self.bound(node, subject)
        raise TypeError(f"not a leaf filter: {type(node).__name__}")

    def in_values(self, subject: exp.Expr, values: Sequence[Any]) -> exp.Expr:
        texts = [v for v in values if v is not None]
        parts: list[exp.Expr] = []
        if texts:
            parts.append(exp.In(this=subject, expressions=[self.text(str(v)) for v in texts]))
        if len(texts) < len(values):
            parts.append(exp.Is(this=subject, expression=exp.Null()))
        return exp.or_(*parts, copy=False)

    def search(self, node: SearchFilter, subject: exp.Expr) -> exp.Expr:
        needle: exp.Expr = self.text(node.query.value)
        if node.query.type == "insensitive_contains":
            subject, needle = self.dialect.lower(subject), self.dialect.lower(needle)
        position = exp.StrPosition(this=subject, substr=needle)
        return exp.GT(this=position, expression=_number(0))

    def bound(self, node: BoundFilter, subject: exp.Expr) -> exp.Expr:
        parts: list[exp.Expr] = []
        if node.ordering == "numeric":
            subject = self.as_number(subject)
        for raw, strict, above in (
            (node.lower, node.lowerStrict, True),
            (node.upper, node.upperStrict, False),
        ):
            if raw is None:
                continue
            if node.ordering == "numeric":
                limit = self.params(float(raw), "double")
            else:
                limit = self.text(_bound_text(raw))
            if above:
                op: type[exp.Binary] = exp.GT if strict else exp.GTE
            else:
                op = exp.LT if strict else exp.LTE
            parts.append(op(this=subject, expression=limit))
        return exp.and_(*parts, copy=False)

    def as_number(self, subject: exp.Expr) -> exp.Expr:
        """The value as a number when it is written as a decimal number, else null."""
        is_number = exp.RegexpLike(this=subject, expression=exp.Literal.string(_NUMBER_PATTERN))
        value = self.dialect.lenient_double(subject)
        return exp.Case(ifs=[exp.If(this=is_number, true=value)])


def _never_null(node: Leaf) -> bool:
    return isinstance(node, SelectorFilter) and node.value is None


def _bound_text(raw: str | float) -> str:
    if isinstance(raw, str):
        return raw
    if not math.isfinite(raw):
        raise ValueError("bound limits must be finite")
    return repr(int(raw)) if raw.is_integer() else repr(raw)
