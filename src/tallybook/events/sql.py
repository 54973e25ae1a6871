"""Event queries as typed plans, rendered to SQL per dialect with sqlglot.

A query is built once as a :class:`FetchPlan` and turned into a sqlglot expression tree;
only the few constructs that differ between engines (fixed-width time buckets, exploding a
multi-value dimension, LIKE escaping) are chosen per dialect. Nothing from a client becomes
SQL text: dimension names come from the allow-list and every value is a bound parameter.

Filter semantics: a filter matches or does not, never "unknown" — a comparison with a
missing (null) dimension is false, so ``not`` of it is true. On a multi-value dimension a
filter matches when any element does; ``selector`` with ``null`` matches an empty list.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache, lru_cache
from typing import Any, Final, Literal
from zoneinfo import ZoneInfo

from sqlglot import exp

from tallybook.events.columns import TEXT_OF_NON_TEXT
from tallybook.events.query import (
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
    check_timezone,
)
from tallybook.events.store import FetchResult
from tallybook.events.zones import ZoneOffsets, local_label, utc_label, zone_offsets

Dialect = Literal["duckdb", "postgres", "clickhouse"]
Leaf = SelectorFilter | InFilter | RegexFilter | LikeFilter | SearchFilter | BoundFilter
DIALECTS: Final = ("duckdb", "postgres", "clickhouse")
TABLE: Final = "events"
LOCAL_GRANULARITIES: Final = frozenset({"day", "week", "month", "year"})
INTEGER_METRICS: Final = frozenset(a for a in AGGREGATIONS if a == "count" or a.endswith("_uniq"))

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
_VALUE_FUNCTIONS: Final[dict[str, type[exp.Func]]] = {
    "sum": exp.Sum,
    "min": exp.Min,
    "max": exp.Max,
    "avg": exp.Avg,
}


@dataclass(frozen=True, slots=True)
class Rendered:
    sql: str
    params: dict[str, Any]


@dataclass(frozen=True)
class FetchPlan:
    """Everything one fetch needs, resolved: the typed object every dialect renders."""

    organization_id: uuid.UUID
    query: EventQuery
    start: datetime
    end: datetime
    zone: ZoneInfo
    offsets: ZoneOffsets

    @classmethod
    def build(
        cls,
        organization_id: uuid.UUID,
        query: EventQuery,
        start: datetime,
        end: datetime,
        time_zone: str,
    ) -> FetchPlan:
        zone = check_timezone(time_zone)
        start, end = _aware_utc(start), _aware_utc(end)
        if end <= start:
            raise ValueError("the interval's end must be after its start")
        return cls(organization_id, query, start, end, zone, zone_offsets(zone, start, end))

    @property
    def granularity(self) -> str:
        return self.query.granularity

    def fields(self) -> list[dict[str, str]]:
        dims = [{"name": "timestamp", "type": "dimension"}]
        dims += [{"name": name, "type": "dimension"} for name in self.query.group_by]
        return dims + [{"name": name, "type": "metric"} for name in self.query.aggregations]

    def result(self, rows: Sequence[Sequence[Any]], *, typed: bool = False) -> FetchResult:
        """JSON-ready rows from the engine's ``(bucket?, dims..., metrics...)`` tuples.

        ``typed``: the engine already returns counts as int and the rest as float.
        """
        if not typed:
            rows = [self._typed(row) for row in rows]
        if self.granularity == "all":
            text = utc_label(self.start.replace(tzinfo=None), self.zone)
            data = [[text, *row] for row in rows]
        else:
            to_text = local_label if self.granularity in LOCAL_GRANULARITIES else utc_label
            labels = {bucket: to_text(bucket, self.zone) for bucket in {row[0] for row in rows}}
            data = [[labels[row[0]], *row[1:]] for row in rows]
        return FetchResult(fields=self.fields(), data=data)

    def _typed(self, row: Sequence[Any]) -> tuple[Any, ...]:
        first_metric = len(row) - len(self.query.aggregations)
        metrics = (
            None if v is None else int(v) if name in INTEGER_METRICS else float(v)
            for name, v in zip(self.query.aggregations, row[first_metric:], strict=True)
        )
        return (*row[:first_metric], *metrics)


def _aware_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _naive_utc(value: datetime) -> datetime:
    return _aware_utc(value).replace(tzinfo=None)


def render_fetch(plan: FetchPlan, dialect: Dialect) -> Rendered:
    """``SELECT [bucket,] dims..., metrics... GROUP BY ... ORDER BY ...`` for one fetch."""
    sql = _Renderer(dialect)
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
    return Rendered(select.sql(dialect=dialect), sql.params.values)


def render_value(
    organization_id: uuid.UUID,
    query: EventQuery,
    start: datetime,
    end: datetime,
    field_name: str,
    dialect: Dialect,
) -> Rendered:
    """``SELECT count, aggregation`` over ``[start, end)``: one number for a target.

    The worker asks this for every target every few minutes, so the SQL of a query shape
    is rendered once and reused with this call's organisation and interval bound in.
    """
    if field_name not in AGGREGATIONS:
        raise ValueError(f"'{field_name}' is not an aggregation")
    template = _value_template(query.model_dump_json(), field_name, dialect)
    params = dict(template.params)
    # the scope binds the organisation, vendor, start and end first: p0, p1, p2, p3
    params["p0"] = organization_id
    params["p2"] = _naive_utc(_aware_utc(start))
    params["p3"] = _naive_utc(_aware_utc(end))
    return Rendered(template.sql, params)


@lru_cache(maxsize=4096)
def _value_template(query_json: str, field_name: str, dialect: Dialect) -> Rendered:
    query = EventQuery.model_validate_json(query_json)
    sql = _Renderer(dialect)
    placeholder = datetime(2000, 1, 1, tzinfo=UTC)
    scope = sql.scope(uuid.UUID(int=0), query, placeholder, placeholder)
    select = (
        exp.select(
            exp.Count(this=exp.Star()).as_("_n"), aggregation(field_name).as_("_v"), copy=False
        )
        .from_(_table(), copy=False)
        .where(scope, copy=False)
    )
    return Rendered(select.sql(dialect=dialect), sql.params.values)


def _table() -> exp.Table:
    return exp.Table(
        this=exp.to_identifier(TABLE), alias=exp.TableAlias(this=exp.to_identifier(_ALIAS))
    )


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
        return exp.Cast(this=column(name), to=_data_type("text"))
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
    values: dict[str, Any] = field(default_factory=dict)

    def __call__(self, value: Any, kind: str) -> exp.Placeholder:
        name = f"p{len(self.values)}"
        self.values[name] = value
        return exp.Placeholder(this=name, kind=_data_type(kind))


@cache
def _cached_type(kind: str) -> exp.DataType:
    return exp.DataType.build(kind)


def _data_type(kind: str) -> exp.DataType:
    return _cached_type(kind).copy()


def _number(value: int) -> exp.Expr:
    return exp.Literal.number(value)


def _seconds(value: int) -> exp.Interval:
    return exp.Interval(this=exp.Literal.string(str(value)), unit=exp.var("SECOND"))


def _fixed_bucket(dialect: Dialect, local: exp.Expr, minutes: int) -> exp.Expr:
    """Buckets of a few minutes aligned to the (local) hour."""
    if dialect == "duckdb":
        width = exp.Interval(this=exp.Literal.string(str(minutes)), unit=exp.var("MINUTE"))
        return exp.Anonymous(this="time_bucket", expressions=[width, local])
    if dialect == "postgres":
        width = exp.Interval(this=exp.Literal.string(str(minutes)), unit=exp.var("MINUTE"))
        origin = exp.Cast(this=exp.Literal.string("2000-01-01"), to=_data_type("timestamp"))
        return exp.Anonymous(this="date_bin", expressions=[width, local, origin])
    width = exp.Interval(this=_number(minutes), unit=exp.var("MINUTE"))
    return exp.Anonymous(this="toStartOfInterval", expressions=[local, width])


class _Renderer:
    def __init__(self, dialect: Dialect) -> None:
        if dialect not in DIALECTS:
            raise ValueError(f"no SQL rendering for '{dialect}'")
        self.dialect: Dialect = dialect
        self.params = _Params()
        self.joins: list[exp.Expr] = []
        self.scoped = False  # the scope is already applied inside a derived table

    def text(self, value: str) -> exp.Placeholder:
        return self.params(value, "text")

    def scope(
        self, organization_id: uuid.UUID, query: EventQuery, start: datetime, end: datetime
    ) -> exp.Expr:
        """The rows a query may see: this organisation, vendor, sources and interval."""
        conditions: list[exp.Expr] = [
            exp.EQ(this=column("organization_id"), expression=self.params(organization_id, "uuid")),
            exp.EQ(this=column("vendor"), expression=self.text(query.vendor)),
            exp.GTE(
                this=column("timestamp"), expression=self.params(_naive_utc(start), "timestamp")
            ),
            exp.LT(this=column("timestamp"), expression=self.params(_naive_utc(end), "timestamp")),
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
        for change in offsets.changes:
            at = self.params(change.at, "timestamp")
            case = case.when(exp.LT(this=column("timestamp"), expression=at), _seconds(before))
            before = change.seconds
        return case.else_(_seconds(before))

    def bucket(self, granularity: str, offsets: ZoneOffsets) -> exp.Expr:
        """Local calendar buckets as naive local starts; shorter ones as naive UTC instants."""
        timestamp = column("timestamp")
        local_offset = self.offset(offsets)
        local = (
            timestamp if local_offset is None else exp.Add(this=timestamp, expression=local_offset)
        )
        if granularity in _FIXED_MINUTES:
            start = _fixed_bucket(self.dialect, local, _FIXED_MINUTES[granularity])
        else:
            start = exp.TimestampTrunc(this=local, unit=exp.var(_TRUNC_UNITS[granularity]))
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
        if self.dialect == "clickhouse":
            return source
        for index, name in enumerate(group_by):
            if name not in MULTI_VALUE_DIMENSIONS:
                continue
            values = column(name)
            empty = exp.EQ(this=self.array_size(values), expression=_number(0))
            nothing = exp.Cast(this=exp.Array(expressions=[exp.Null()]), to=_data_type("text[]"))
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
        if self.dialect == "clickhouse":
            self.joins.append(exp.Join(this=column(name).as_(element), side="LEFT", kind="ARRAY"))
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
        if self.dialect == "postgres":  # array_length() of an empty array is null there
            return exp.Anonymous(this="cardinality", expressions=[values])
        return exp.ArraySize(this=values)

    def overlaps(self, values: exp.Expr, wanted: exp.Expr) -> exp.Expr:
        if self.dialect == "clickhouse":
            return exp.Anonymous(this="hasAny", expressions=[values, wanted])
        return exp.ArrayOverlaps(this=values, expression=wanted)

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
            like = exp.Like(this=subject, expression=self.text(node.pattern))
            if self.dialect == "clickhouse":  # backslash always escapes; no ESCAPE clause
                return like
            # No escape character: DuckDB has none by default, PostgreSQL uses backslash.
            return exp.Escape(this=like, expression=exp.Literal.string(""))
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
            subject, needle = exp.Lower(this=subject), exp.Lower(this=needle)
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
        double = _data_type("double")
        if self.dialect == "duckdb":
            value: exp.Expr = exp.TryCast(this=subject, to=double)
        else:
            value = exp.Cast(this=subject, to=double)
        return exp.Case(ifs=[exp.If(this=is_number, true=value)])


def _never_null(node: Leaf) -> bool:
    return isinstance(node, SelectorFilter) and node.value is None


def _bound_text(raw: str | float) -> str:
    if isinstance(raw, str):
        return raw
    if not math.isfinite(raw):
        raise ValueError("bound limits must be finite")
    return repr(int(raw)) if raw.is_integer() else repr(raw)
