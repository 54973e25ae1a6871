"""One plan, three dialects: each rendering parses in its dialect's own grammar (the
conformance suite runs them; this pins the SQL shapes sqlglot round-trips)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlglot

from tallybook.events.query.dialects import DIALECTS, ClickHouseDialect, DialectName
from tallybook.events.query.language import EventQuery
from tallybook.events.query.plan import FetchPlan
from tallybook.events.query.render import Renderer, _render_fetch, render_fetch, render_value

START, END = datetime(2021, 3, 1, tzinfo=UTC), datetime(2021, 4, 1, tzinfo=UTC)
QUERIES: list[dict[str, Any]] = [
    {"vendor": "v"},
    {
        "vendor": "v",
        "granularity": "fifteen_minute",
        "sources": ["trusted", "external"],
        "aggregations": ["count", "avg", "visitor_id_uniq"],
        "group_by": ["category", "event_version"],
        "filters": {"type": "selector", "dimension": "category", "value": "widget"},
    },
    {
        "vendor": "v",
        "granularity": "week",
        "aggregations": ["sum", "session_id_uniq"],
        "group_by": ["properties"],
        "filters": {
            "type": "and",
            "fields": [
                {"type": "in", "dimension": "properties", "values": ["a", None]},
                {"type": "not", "field": {"type": "regex", "dimension": "dim1", "pattern": "^x"}},
                {"type": "like", "dimension": "partner_organization_ids", "pattern": "a%"},
                {
                    "type": "search",
                    "dimension": "label",
                    "query": {"type": "insensitive_contains", "value": "Q"},
                },
                {
                    "type": "bound",
                    "dimension": "dim5",
                    "lower": 1,
                    "upperStrict": True,
                    "upper": 9,
                    "ordering": "numeric",
                },
                {
                    "type": "or",
                    "fields": [{"type": "selector", "dimension": "dim2", "value": None}],
                },
            ],
        },
    },
]


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("raw", QUERIES)
@pytest.mark.parametrize("zone", ["UTC", "Europe/Helsinki"])
def test_renders_sql_the_dialect_parses(
    dialect: DialectName, raw: dict[str, Any], zone: str
) -> None:
    plan = FetchPlan.build(uuid.uuid4(), EventQuery.model_validate(raw), START, END, zone)
    rendered = render_fetch(plan, dialect)
    parsed = sqlglot.parse_one(rendered.sql, read=dialect)
    assert parsed.sql(dialect=dialect)  # round-trips through the dialect's own grammar
    assert '"organization_id" =' in rendered.sql


@pytest.mark.parametrize("dialect", DIALECTS)
def test_value_query_renders(dialect: DialectName) -> None:
    rendered = render_value(
        uuid.uuid4(), EventQuery.model_validate(QUERIES[2]), START, END, "avg", dialect
    )
    sqlglot.parse_one(rendered.sql, read=dialect)


def test_dialect_specific_pieces() -> None:
    plan = FetchPlan.build(uuid.uuid4(), EventQuery.model_validate(QUERIES[2]), START, END, "UTC")
    duck, postgres, clickhouse = (render_fetch(plan, d).sql for d in DIALECTS)
    assert "$p0" in duck and "%(p0)s" in postgres and "{p0: " in clickhouse
    assert "SELECT e.*, UNNEST(CASE" in duck and "LEFT ARRAY JOIN" in clickhouse
    assert "CARDINALITY(" in postgres.upper() and "hasAny(" in clickhouse
    assert "ESCAPE ''" in postgres and "ESCAPE" not in clickhouse


def test_unknown_dialect() -> None:
    plan = FetchPlan.build(uuid.uuid4(), EventQuery.model_validate(QUERIES[0]), START, END, "UTC")
    with pytest.raises(ValueError, match="no SQL rendering"):
        render_fetch(plan, "oracle")  # type: ignore[arg-type]


@pytest.mark.parametrize("dialect", DIALECTS)
def test_a_shape_renders_once_and_each_fetch_binds_its_own_values(dialect: DialectName) -> None:
    """The second fetch reuses the first one's SQL with its own organisation, interval and
    DST change (2021-03-28 01:00 UTC, a year later 2022-03-27 01:00 UTC) bound in."""
    query = EventQuery.model_validate({**QUERIES[1], "granularity": "day"})
    march = FetchPlan.build(uuid.uuid4(), query, START, END, "Europe/Helsinki")
    later = START.replace(year=2022), END.replace(year=2022)
    next_march = FetchPlan.build(uuid.uuid4(), query, *later, "Europe/Helsinki")
    first, second = render_fetch(march, dialect), render_fetch(next_march, dialect)
    assert first.sql == second.sql
    for plan, rendered in ((march, first), (next_march, second)):
        fresh = _render_fetch(plan, Renderer(dialect))  # the same plan, rendered anew
        assert rendered.params == fresh.params
        assert plan.organization_id in rendered.params.values()
    assert datetime(2021, 3, 28, 1) in first.params.values()
    assert datetime(2022, 3, 27, 1) in second.params.values()


@pytest.mark.parametrize("dialect", DIALECTS)
def test_hours_of_a_whole_hour_zone_are_utc_hours(dialect: DialectName) -> None:
    """Helsinki's hours start on UTC hours even across its DST change: no per-row offset.
    Kolkata's (+05:30) do not, and its quarter hours do."""
    hourly = EventQuery.model_validate({"vendor": "v", "granularity": "hour"})
    quarters = EventQuery.model_validate({"vendor": "v", "granularity": "fifteen_minute"})

    def sql(query: EventQuery, zone: str) -> str:
        return render_fetch(FetchPlan.build(uuid.uuid4(), query, START, END, zone), dialect).sql

    assert "CASE" not in sql(hourly, "Europe/Helsinki").upper()
    assert "SECOND" not in sql(quarters, "Asia/Kolkata").upper()  # offsets: whole seconds
    assert "19800" in sql(hourly, "Asia/Kolkata")


def test_clickhouse_materializes_the_ctes_read_more_than_once() -> None:
    statement = sqlglot.parse_one(
        "WITH once AS (SELECT 1 AS x), twice AS (SELECT x FROM once)"
        " SELECT * FROM twice AS a JOIN twice AS b ON a.x = b.x",
        read="clickhouse",
    )
    materializing = ClickHouseDialect(materialize_shared_ctes=True).sql(statement)
    assert "twice AS MATERIALIZED (" in materializing
    assert "once AS (" in materializing  # read once: inlined, as ClickHouse does
    assert "MATERIALIZED" not in ClickHouseDialect().sql(statement)  # an older server
    assert "MATERIALIZED" not in statement.sql(dialect="clickhouse")  # rendered a copy


@pytest.mark.parametrize(
    ("shared", "materialized"),
    [
        ("SELECT a, b FROM events AS e WHERE e.a > 1", False),  # read again: a scan
        ("SELECT a, b FROM db.events WHERE a > 1", False),
        ("SELECT a, count(*) AS b FROM events GROUP BY a", True),
        ("SELECT a, min(b) OVER (PARTITION BY a) AS b FROM events", True),
        ("SELECT DISTINCT a, b FROM events", True),
        ("SELECT a, b FROM events WHERE a IN (SELECT a FROM other)", True),
        ("SELECT x.a, y.b FROM events AS x JOIN other AS y ON x.a = y.a", True),
        ("SELECT a, b FROM once", True),  # another CTE's rows
    ],
)
def test_clickhouse_reads_a_shared_scan_again_rather_than_writing_it(
    shared: str, materialized: bool
) -> None:
    statement = sqlglot.parse_one(
        f"WITH once AS (SELECT 1 AS a, 2 AS b), shared AS ({shared})"
        " SELECT * FROM shared AS x JOIN shared AS y ON x.a = y.a",
        read="clickhouse",
    )
    rendered = ClickHouseDialect(materialize_shared_ctes=True).sql(statement)
    assert ("shared AS MATERIALIZED (" in rendered) is materialized
