"""Queries at the nesting limit: every filter type, under `not`, `and` and `or` chains as
deep as the limit allows, validates, renders for every dialect and runs (issue 9, row 1).

A query is never deeper than a request body may be (kit.body.MAX_JSON_DEPTH), and a stored
target's query is checked by the same rule when it is loaded; so what passes here is the
worst the worker and ``/test`` can meet.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from tallybook.events.engines.runner import QueryRunner
from tallybook.events.query.dialects import DialectName
from tallybook.events.query.language import EventQuery, Interval
from tallybook.events.query.plan import FetchPlan
from tallybook.events.query.render import render_fetch, render_value
from tallybook.kit.body import MAX_JSON_DEPTH, value_depth
from tests.events.helpers import T0, event

LEAVES: dict[str, dict[str, Any]] = {
    "selector": {"type": "selector", "dimension": "label", "value": "hit"},
    "in": {"type": "in", "dimension": "properties", "values": ["hit", "x"]},
    "regex": {"type": "regex", "dimension": "label", "pattern": "^h"},
    "like": {"type": "like", "dimension": "label", "pattern": "h%"},
    "search": {
        "type": "search",
        "dimension": "label",
        "query": {"type": "insensitive_contains", "value": "HI"},
    },
    "bound": {"type": "bound", "dimension": "dim1", "lower": "1", "ordering": "numeric"},
}


def wrap(kind: str, node: dict[str, Any]) -> dict[str, Any]:
    if kind == "not":
        return {"type": "not", "field": node}
    return {"type": kind, "fields": [node]}


def deepest(kind: str, leaf: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """The query with ``leaf`` under as many ``kind`` levels as the limit allows (and one
    `not` on top when an `and`/`or` level would overshoot), and how many `not`s it has."""
    node, nots = leaf, 0

    def fits(candidate: dict[str, Any]) -> bool:
        return value_depth({"vendor": "v", "filters": candidate}) <= MAX_JSON_DEPTH

    while fits(wrap(kind, node)):
        node, nots = wrap(kind, node), nots + (kind == "not")
    if fits(wrap("not", node)):
        node, nots = wrap("not", node), nots + 1
    query = {"vendor": "v", "aggregations": ["count", "sum"], "filters": node}
    assert value_depth(query) == MAX_JSON_DEPTH
    return query, nots


CASES = [(kind, name) for kind in ("not", "and", "or") for name in LEAVES]


@pytest.fixture(scope="module")
def org(store: QueryRunner) -> uuid.UUID:
    organization = uuid.uuid4()
    store.insert(
        [
            event(organization, T0, label="hit", dim1="5", properties=("hit",)),
            event(organization, T0 + timedelta(minutes=1), label="miss", dim1="0"),
            event(organization, T0 + timedelta(minutes=2), label="other", dim1="-3"),
        ]
    )
    return organization


@pytest.mark.parametrize(("kind", "leaf"), CASES)
def test_a_query_at_the_limit_renders_and_runs(
    store: QueryRunner, org: uuid.UUID, kind: str, leaf: str
) -> None:
    raw, nots = deepest(kind, LEAVES[leaf])
    query = EventQuery.model_validate(raw)
    interval = Interval(start=T0, end=T0 + timedelta(days=1))
    plan = FetchPlan.build(org, query, interval.start, interval.end, "UTC")
    for dialect in DialectName:
        assert render_fetch(plan, dialect).sql
        assert render_value(org, query, interval.start, interval.end, "count", dialect).sql
    # each leaf matches one of the three events; an odd number of `not`s the other two
    expected = 2 if nots % 2 else 1
    rows = store.fetch(org, query, interval, "UTC").data
    assert rows and rows[0][1] == expected
    assert store.value(org, query, interval.start, interval.end, "count") == expected


@pytest.mark.parametrize(("kind", "leaf"), CASES)
def test_one_level_more_is_refused_by_the_query_itself(kind: str, leaf: str) -> None:
    query, _ = deepest(kind, LEAVES[leaf])
    query["filters"] = wrap(kind, query["filters"])
    with pytest.raises(ValidationError, match="more than 32 levels deep"):
        EventQuery.model_validate(query)


def test_a_far_too_deep_stored_query_is_refused_without_recursion() -> None:
    node: dict[str, Any] = LEAVES["selector"]
    for _ in range(100_000):
        node = {"type": "not", "field": node}
    with pytest.raises(ValidationError, match="levels deep"):
        EventQuery.model_validate({"vendor": "v", "filters": node})
