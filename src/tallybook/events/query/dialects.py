"""What differs between SQL engines, in one place: a :class:`Dialect` per engine.

The renderer writes one sqlglot tree for every engine and asks the dialect only for the
few constructs that differ (time buckets, list functions, LIKE escaping, a lenient cast,
Unicode lower case, how a multi-value dimension becomes rows, how parameters are typed). A
dialect overrides what its engine does differently from the base class, as superset's
engine specs do; the base class holds the most common form. Adding a dialect is a subclass
and a line in :data:`DIALECT_CLASSES`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from enum import StrEnum
from functools import cache
from typing import ClassVar, Final

from sqlglot import exp

from tallybook.events.query.columns import ColumnType
from tallybook.kit.tabular.cells import FORMULA_PREFIXES


class DialectName(StrEnum):
    """A SQL dialect, named as sqlglot names it."""

    DUCKDB = "duckdb"
    POSTGRES = "postgres"
    CLICKHOUSE = "clickhouse"


@cache
def _cached_type(kind: str) -> exp.DataType:
    return exp.DataType.build(kind)


def data_type(kind: str) -> exp.DataType:
    """A sqlglot type from a logical type name (``text``, ``uuid``, ``text[]``...)."""
    return _cached_type(kind).copy()


class Dialect:
    """The base: standard SQL as DuckDB and PostgreSQL mostly share it."""

    name: ClassVar[DialectName]
    array_join: ClassVar[bool] = False
    """Whether a multi-value group_by dimension becomes rows by ``ARRAY JOIN`` (ClickHouse)
    rather than ``UNNEST`` in a derived table."""
    windows_sort_rows: ClassVar[bool] = False
    """Whether a window over the session sorts every row it carries, so that rows which
    need no window are better read apart (ClickHouse; see
    ``funnels.paths.judged_step_events``)."""
    hashed_keys: ClassVar[bool] = False
    """Whether aggregates over many sessions group and join on :meth:`key_hash` of their
    ids and count distinct values through :meth:`distinct_state` (ClickHouse), rather than
    on the text itself (see ``funnels.charts``)."""

    def sql(self, expression: exp.Expr) -> str:
        return expression.sql(dialect=self.name.value)

    def fixed_bucket(self, local: exp.Expr, minutes: int) -> exp.Expr:
        """Buckets of a few minutes aligned to the (local) hour."""
        raise NotImplementedError

    def array_size(self, values: exp.Expr) -> exp.Expr:
        return exp.ArraySize(this=values)

    def overlaps(self, values: exp.Expr, wanted: exp.Expr) -> exp.Expr:
        return exp.ArrayOverlaps(this=values, expression=wanted)

    def like(self, like: exp.Like) -> exp.Expr:
        """LIKE with no escape character: DuckDB has none by default, PostgreSQL uses
        backslash unless told otherwise."""
        return exp.Escape(this=like, expression=exp.Literal.string(""))

    def lenient_double(self, subject: exp.Expr) -> exp.Expr:
        """``subject`` as a double; the caller has checked it looks like a number."""
        return exp.Cast(this=subject, to=data_type("double"))

    def truncate(self, local: exp.Expr, unit: str) -> exp.Expr:
        """The start of the calendar unit (``HOUR``, ``WEEK`` from Monday...) holding
        ``local``."""
        return exp.TimestampTrunc(this=local, unit=exp.var(unit))

    def lower(self, text: exp.Expr) -> exp.Expr:
        """Lower case, Unicode-aware."""
        return exp.Lower(this=text)

    def array_join_elements(self, values: exp.Expr) -> exp.Expr:
        """What ``ARRAY JOIN`` explodes for a multi-value group_by dimension (engines with
        :attr:`array_join`): the elements, or one null for an empty list."""
        return values

    def key_hash(self, text: exp.Expr) -> exp.Expr:
        """A 128-bit fixed-width stand-in for a text value that is only grouped on, counted
        and compared, null for null (engines with :attr:`hashed_keys`)."""
        raise NotImplementedError(f"{self.name} does not hash keys")

    def step_number(self, text: exp.Expr) -> exp.Expr:
        """A step index (text the caller has checked is ``0``, ``1``, … up to nine digits)
        as an unsigned integer (engines with :attr:`hashed_keys`)."""
        raise NotImplementedError(f"{self.name} does not hash keys")

    def distinct_state(self, value: exp.Expr) -> exp.Expr:
        """An aggregate of ``value``'s distinct non-null values that can be counted as it
        is (:meth:`state_count`) and merged with others of its kind (engines with
        :attr:`hashed_keys`)."""
        raise NotImplementedError(f"{self.name} does not keep aggregate states")

    def state_count(self, state: exp.Expr, *, merged: bool) -> exp.Expr:
        """The distinct values of one :meth:`distinct_state` (``merged``: an aggregate
        over the states of a group's rows, their union's)."""
        raise NotImplementedError(f"{self.name} does not keep aggregate states")

    def csv_cell(self, value: exp.Expr, kind: ColumnType) -> exp.Expr:
        """The text ``kit.tabular``'s CSV writer gives a value of ``kind`` (as
        ``query.cells.FILE_VALUES`` turns it), before quoting; null for an empty cell.
        Only engines that write CSV themselves have it."""
        raise NotImplementedError(f"{self.name} does not render CSV cells")


def _typed_placeholder(node: exp.Expr) -> exp.Expr:
    kind = node.args.get("kind") if isinstance(node, exp.Placeholder) else None
    if kind is None:
        return node
    return exp.Cast(this=exp.Placeholder(this=node.this), to=kind.copy())


def _minutes(minutes: int) -> exp.Interval:
    return exp.Interval(this=exp.Literal.string(str(minutes)), unit=exp.var("MINUTE"))


class DuckDBDialect(Dialect):
    name = DialectName.DUCKDB

    def fixed_bucket(self, local: exp.Expr, minutes: int) -> exp.Expr:
        return exp.Anonymous(this="time_bucket", expressions=[_minutes(minutes), local])

    def lenient_double(self, subject: exp.Expr) -> exp.Expr:
        return exp.TryCast(this=subject, to=data_type("double"))

    def csv_cell(self, value: exp.Expr, kind: ColumnType) -> exp.Expr:
        """``kit.tabular.csv_writer``'s text of each type, checked byte for byte against
        it: timestamps ``2021-04-01T10:10:57.242Z`` (``%g``: milliseconds, truncated, as
        ``isoformat``), numbers as DuckDB casts them (doubles in Python's shortest
        round-trip form, as ``repr``), text escaped against formulas, lists as orjson's
        JSON. Empty text is null: DuckDB's CSV writer quotes an empty string."""
        if kind is ColumnType.TIMESTAMP:
            return _call("strftime", value, exp.Literal.string("%Y-%m-%dT%H:%M:%S.%gZ"))
        if kind is ColumnType.INT:
            return _varchar(value)
        if kind is ColumnType.DOUBLE:
            return _duckdb_double(value)
        if kind is ColumnType.TEXT_LIST:
            return _duckdb_list(value)
        text = _varchar(value) if kind is ColumnType.UUID else value
        return exp.Case(
            ifs=[exp.If(this=_formula_like(text), true=_concat(_string("'"), text.copy()))],
            default=exp.Nullif(this=text.copy(), expression=_string("")),
        )


def _call(name: str, *arguments: exp.Expr) -> exp.Expr:
    return exp.Anonymous(this=name, expressions=list(arguments))


def _string(text: str) -> exp.Literal:
    return exp.Literal.string(text)


def _varchar(value: exp.Expr) -> exp.Expr:
    return exp.Cast(this=value, to=data_type("text"))


def _concat(*parts: exp.Expr) -> exp.Expr:
    joined = parts[0]
    for part in parts[1:]:
        joined = exp.DPipe(this=joined, expression=part)
    return joined


_IN_LIST_CODES: Final = 3


def _formula_like(text: exp.Expr) -> exp.Expr:
    """Text starting like a formula (``cells.FORMULA_PREFIXES``), by its first code point:
    the cheapest test DuckDB has (a ``left()`` or a regular expression costs more). The
    codes are tested in lists of at most :data:`_IN_LIST_CODES`: DuckDB plans a longer
    ``IN`` list of constants as a join against them, a hash table per column (27 of them,
    about 25 MB and 11 ms of planning for each query of a workflow CSV)."""
    codes = [exp.Literal.number(ord(prefix)) for prefix in FORMULA_PREFIXES]
    tests = [
        exp.In(this=_call("ascii", text.copy()), expressions=codes[at : at + _IN_LIST_CODES])
        for at in range(0, len(codes), _IN_LIST_CODES)
    ]
    return exp.or_(*tests, copy=False) if len(tests) > 1 else tests[0]


def _duckdb_double(value: exp.Expr) -> exp.Expr:
    """As ``repr``; the non-finite escaped as text is (``'-inf``); NaN without a sign."""
    infinity = exp.Cast(this=_string("inf"), to=data_type("double"))
    return exp.Case(
        ifs=[
            exp.If(this=_call("isnan", value.copy()), true=_string("nan")),
            exp.If(
                this=exp.EQ(this=value.copy(), expression=exp.Neg(this=infinity)),
                true=_string("'-inf"),
            ),
        ],
        default=_varchar(value.copy()),
    )


# orjson's escapes of the control characters; DuckDB's to_json writes the \u00XX ones
# with capital letters (\u001B where orjson writes \u001b).
_JSON_ESCAPES: Final = {
    0x08: "\\b",
    0x09: "\\t",
    0x0A: "\\n",
    0x0C: "\\f",
    0x0D: "\\r",
}


def _duckdb_list(value: exp.Expr) -> exp.Expr:
    """orjson's JSON text of the list's elements (``[]`` for null): DuckDB's ``to_json``
    gives the same text, except for control characters written ``\\u00XX`` (capital hex
    digits) and null elements (``null``, where Python writes ``"None"``). A list whose JSON
    holds ``\\u00`` or ``null`` anywhere (rare) is written element by element instead."""
    json = _varchar(_call("to_json", value.copy()))
    unusual = exp.or_(
        _call("contains", json.copy(), _string("\\u00")),
        _call("contains", json.copy(), _string("null")),
    )
    return exp.Case(
        ifs=[
            exp.If(this=exp.Is(this=value.copy(), expression=exp.Null()), true=_string("[]")),
            exp.If(this=unusual, true=_list_by_element(value)),
        ],
        default=json,
    )


def _list_by_element(value: exp.Expr) -> exp.Expr:
    element = exp.column("_e")
    escaped: exp.Expr = _call("replace", element, _string("\\"), _string("\\\\"))
    escaped = _call("replace", escaped, _string('"'), _string('\\"'))
    for code in range(0x20):
        text = _JSON_ESCAPES.get(code, f"\\u{code:04x}")
        escaped = _call("replace", escaped, _call("chr", exp.Literal.number(code)), _string(text))
    quoted = exp.Case(
        ifs=[
            exp.If(this=exp.Is(this=element.copy(), expression=exp.Null()), true=_string('"None"'))
        ],
        default=_concat(_string('"'), escaped, _string('"')),
    )
    each = exp.Lambda(this=quoted, expressions=[exp.to_identifier("_e")])
    joined = _call("array_to_string", _call("list_transform", value.copy(), each), _string(","))
    return _concat(_string("["), joined, _string("]"))


class PostgresDialect(Dialect):
    name = DialectName.POSTGRES

    def sql(self, expression: exp.Expr) -> str:
        """Each parameter cast to its type: PostgreSQL cannot infer the type of one that
        stands alone (``CASE WHEN $1 IS NULL``)."""
        return expression.transform(_typed_placeholder).sql(dialect=self.name.value)

    def fixed_bucket(self, local: exp.Expr, minutes: int) -> exp.Expr:
        origin = exp.Cast(this=exp.Literal.string("2000-01-01"), to=data_type("timestamp"))
        return exp.Anonymous(this="date_bin", expressions=[_minutes(minutes), local, origin])

    def array_size(self, values: exp.Expr) -> exp.Expr:
        # array_length() of an empty array is null there
        return exp.Anonymous(this="cardinality", expressions=[values])


CLICKHOUSE_TYPES: Final[dict[str, str]] = {
    "TEXT": "String",
    "UUID": "UUID",
    "TIMESTAMP": "DateTime64(6, 'UTC')",
    "DOUBLE": "Float64",
    "INT": "Int32",
    "TEXT[]": "Array(String)",
}
"""ClickHouse's types for the logical types (by their DuckDB spelling), not Nullable:
every value the renderer binds is present (a missing one is ``IS NULL`` in the SQL)."""


@cache
def _clickhouse_type(kind: str) -> exp.DataType:
    return exp.DataType.build(CLICKHOUSE_TYPES[kind], dialect="clickhouse")


def _clickhouse_placeholder(node: exp.Expr) -> exp.Expr:
    kind = node.args.get("kind") if isinstance(node, exp.Placeholder) else None
    if kind is None:
        return node
    return exp.Placeholder(this=node.this, kind=_clickhouse_type(kind.sql("duckdb")).copy())


def _materialize_shared_ctes(statement: exp.Expr) -> None:
    """Mark the CTEs that the statement reads more than once as materialized, unless
    reading one again costs less than writing it (:func:`_a_scan`)."""
    ctes = {cte.alias_or_name: cte for cte in statement.find_all(exp.CTE)}
    if not ctes:
        return
    reads = Counter(
        table.name for table in statement.find_all(exp.Table) if not table.db and table.name in ctes
    )
    for name, cte in ctes.items():
        if reads[name] > 1 and not _a_scan(cte.this, ctes.keys()):
            cte.set("materialized", True)


def _a_scan(query: exp.Expr, ctes: Collection[str]) -> bool:
    """Whether a CTE only filters and picks columns of one stored table (not another
    CTE): each reader then
    scans the table again on every core, which costs less than writing every row into a
    temporary table on one (the funnel chart's events without a path: 1.82 M rows at
    10 M events, docs/performance.md)."""
    if not isinstance(query, exp.Select) or query.args.get("joins") or query.args.get("group"):
        return False
    source = query.args.get("from_") or query.args.get("from")
    table = source.this if source is not None else None
    if not isinstance(table, exp.Table) or (not table.db and table.name in ctes):
        return False
    return query.find(exp.Window, exp.AggFunc, exp.Subquery, exp.Distinct) is None


def _utc_instant(value: exp.Expr) -> exp.Expr:
    """A bucket start as ``DateTime64(6, 'UTC')`` whatever the function returned (a Date,
    a DateTime), so every bucket comes back as the same type."""
    return exp.Anonymous(
        this="toDateTime64",
        expressions=[value, exp.Literal.number(6), exp.Literal.string("UTC")],
    )


class ClickHouseDialect(Dialect):
    """ClickHouse: ``{name:Type}`` parameters of non-Nullable types, ``ARRAY JOIN`` for a
    multi-value dimension, buckets by its date functions (their results made
    ``DateTime64``), LIKE without its backslash escape.

    ClickHouse inlines a common table expression at every reference, computing it again
    each time. With ``materialize_shared_ctes`` (for a server that has
    ``enable_materialized_cte``; the store finds out) a CTE read more than once is
    rendered ``AS MATERIALIZED``: computed once into a temporary table. The funnel chart
    reads its per-session rows four times. A CTE that only scans one table is read again
    instead (:func:`_a_scan`)."""

    name = DialectName.CLICKHOUSE
    array_join = True
    hashed_keys = True
    windows_sort_rows = True

    def __init__(self, *, materialize_shared_ctes: bool = False) -> None:
        self.materialize_shared_ctes = materialize_shared_ctes

    def sql(self, expression: exp.Expr) -> str:
        rendered = expression.transform(_clickhouse_placeholder)
        if self.materialize_shared_ctes:
            _materialize_shared_ctes(rendered)
        return rendered.sql(dialect=self.name.value)

    def fixed_bucket(self, local: exp.Expr, minutes: int) -> exp.Expr:
        width = exp.Interval(this=exp.Literal.number(minutes), unit=exp.var("MINUTE"))
        return _utc_instant(exp.Anonymous(this="toStartOfInterval", expressions=[local, width]))

    def truncate(self, local: exp.Expr, unit: str) -> exp.Expr:
        # dateTrunc gives a Date for a week or longer and starts weeks on Monday
        return _utc_instant(super().truncate(local, unit))

    def overlaps(self, values: exp.Expr, wanted: exp.Expr) -> exp.Expr:
        return exp.Anonymous(this="hasAny", expressions=[values, wanted])

    def like(self, like: exp.Like) -> exp.Expr:
        """LIKE has no escape character in the query language: a backslash in the pattern
        is doubled, since ClickHouse always reads it as one."""
        pattern = exp.Anonymous(
            this="replaceAll",
            expressions=[like.expression, exp.Literal.string("\\"), exp.Literal.string("\\\\")],
        )
        return exp.Like(this=like.this, expression=pattern)

    def lenient_double(self, subject: exp.Expr) -> exp.Expr:
        return exp.Anonymous(this="toFloat64OrNull", expressions=[subject])

    def lower(self, text: exp.Expr) -> exp.Expr:
        return exp.Anonymous(this="lowerUTF8", expressions=[text])

    def key_hash(self, text: exp.Expr) -> exp.Expr:
        """SipHash-2-4 with 128 bits as one ``UInt128`` (null for null): ClickHouse's hash
        tables on a fixed-width key cost a fraction of those on ``String``, and the hash is
        the one its own ``uniqExact`` keeps of each string, so two ids are told apart as
        surely as the API's distinct counts tell them apart (a collision of two given
        ids has a chance of 2^-128)."""
        hashed = exp.Anonymous(this="sipHash128", expressions=[text])
        return exp.Anonymous(this="reinterpretAsUInt128", expressions=[hashed])

    def step_number(self, text: exp.Expr) -> exp.Expr:
        # OrZero: never an error, even if ClickHouse computes it before the filter
        return exp.Anonymous(this="toUInt32OrZero", expressions=[text])

    def distinct_state(self, value: exp.Expr) -> exp.Expr:
        return exp.Anonymous(this="uniqExactState", expressions=[value])

    def state_count(self, state: exp.Expr, *, merged: bool) -> exp.Expr:
        if merged:
            return exp.Anonymous(this="uniqExactMerge", expressions=[state])
        return exp.Anonymous(this="finalizeAggregation", expressions=[state])

    def array_join_elements(self, values: exp.Expr) -> exp.Expr:
        """ARRAY JOIN of an empty array gives no row (LEFT: one empty string), so an empty
        list becomes ``[NULL]``, as ``UNNEST`` gives in the other engines."""
        empty = exp.Anonymous(this="empty", expressions=[values])
        nothing = exp.Array(expressions=[exp.Null()])
        # if(), not CASE: ClickHouse's grammar takes a function call after ARRAY JOIN
        return exp.Anonymous(this="if", expressions=[empty, nothing, values.copy()])


DIALECT_CLASSES: Final[dict[DialectName, type[Dialect]]] = {
    DialectName.DUCKDB: DuckDBDialect,
    DialectName.POSTGRES: PostgresDialect,
    DialectName.CLICKHOUSE: ClickHouseDialect,
}
DIALECTS: Final = tuple(DIALECT_CLASSES)


@cache
def dialect_for(name: str) -> Dialect:
    """The dialect of that name; ValueError for one without rendering."""
    try:
        return DIALECT_CLASSES[DialectName(name)]()
    except ValueError:
        raise ValueError(f"no SQL rendering for '{name}'") from None
