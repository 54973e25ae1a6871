"""Each filter type on scalar and multi-value dimensions, and group_by on properties."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest

from tallybook.events.engines.runner import QueryRunner
from tallybook.events.query.language import Interval
from tallybook.kit.errors import InvalidPayload
from tests.events.helpers import T0, event, query

EVENTS: list[dict[str, Any]] = [
    {"label": "e0", "dim1": "apple", "properties": ("red", "sweet"), "value": 1.0},
    {"label": "e1", "dim1": "Apple pie", "properties": ("sweet",), "value": 2.0},
    {"label": "e2", "dim1": "banana", "properties": (), "value": 3.0},
    {"label": "e3", "dim1": None, "properties": ("green",), "value": 4.0},
    {"label": "e4", "dim1": "10", "properties": ("9", "100"), "value": 5.0},
    {"label": "e5", "dim1": "9.5", "properties": ("a_b",), "value": 6.0},
]


@pytest.fixture(scope="module")
def org(store: QueryRunner) -> uuid.UUID:
    organization = uuid.uuid4()
    store.insert(
        [
            event(organization, T0 + timedelta(minutes=i), **fields)
            for i, fields in enumerate(EVENTS)
        ]
    )
    return organization


def labels(store: QueryRunner, org: uuid.UUID, filters: dict[str, Any]) -> list[str]:
    q = query(group_by=["label"], filters=filters)
    rows = store.fetch(org, q, Interval(start=T0, end=T0 + timedelta(days=1)), "UTC").data
    return [row[1] for row in rows]


CASES = [
    ({"type": "selector", "dimension": "dim1", "value": "apple"}, ["e0"]),
    ({"type": "selector", "dimension": "dim1", "value": None}, ["e3"]),
    ({"type": "selector", "dimension": "dim1", "value": 10}, ["e4"]),
    (
        {"type": "selector", "dimension": "event_version", "value": 1},
        ["e0", "e1", "e2", "e3", "e4", "e5"],
    ),
    ({"type": "in", "dimension": "dim1", "values": ["banana", "10", "nope"]}, ["e2", "e4"]),
    ({"type": "in", "dimension": "dim1", "values": [None, "apple"]}, ["e0", "e3"]),
    ({"type": "regex", "dimension": "dim1", "pattern": "an"}, ["e2"]),
    ({"type": "regex", "dimension": "dim1", "pattern": "^[Aa]pple"}, ["e0", "e1"]),
    ({"type": "like", "dimension": "dim1", "pattern": "%pp%"}, ["e0", "e1"]),
    ({"type": "like", "dimension": "dim1", "pattern": "_0"}, ["e4"]),
    ({"type": "like", "dimension": "dim1", "pattern": "apple"}, ["e0"]),
    (
        {"type": "search", "dimension": "dim1", "query": {"type": "contains", "value": "pple"}},
        ["e0", "e1"],
    ),
    (
        {"type": "search", "dimension": "dim1", "query": {"type": "contains", "value": "APPLE"}},
        [],
    ),
    (
        {
            "type": "search",
            "dimension": "dim1",
            "query": {"type": "insensitive_contains", "value": "APPLE"},
        },
        ["e0", "e1"],
    ),
    ({"type": "bound", "dimension": "dim1", "lower": "b", "upper": "c"}, ["e2"]),
    # Code-point order: "10" < "9.5" < "Apple pie" < "apple" < "banana".
    (
        {"type": "bound", "dimension": "dim1", "lower": "10", "lowerStrict": True},
        ["e0", "e1", "e2", "e5"],
    ),
    ({"type": "bound", "dimension": "dim1", "lower": 9, "ordering": "numeric"}, ["e4", "e5"]),
    (
        {
            "type": "bound",
            "dimension": "dim1",
            "upper": 10,
            "upperStrict": True,
            "ordering": "numeric",
        },
        ["e5"],
    ),
    (
        {
            "type": "bound",
            "dimension": "dim1",
            "lower": "9.5",
            "upper": "9.5",
            "ordering": "numeric",
        },
        ["e5"],
    ),
    # Multi-value: any element matches; null matches an empty list.
    ({"type": "selector", "dimension": "properties", "value": "sweet"}, ["e0", "e1"]),
    ({"type": "selector", "dimension": "properties", "value": None}, ["e2"]),
    ({"type": "in", "dimension": "properties", "values": ["green", None]}, ["e2", "e3"]),
    ({"type": "regex", "dimension": "properties", "pattern": "^gr"}, ["e3"]),
    ({"type": "like", "dimension": "properties", "pattern": "a_b"}, ["e5"]),
    (
        {"type": "search", "dimension": "properties", "query": {"type": "contains", "value": "_"}},
        ["e5"],
    ),
    ({"type": "bound", "dimension": "properties", "lower": 50, "ordering": "numeric"}, ["e4"]),
    # Logic: not of a comparison with a missing value is true (two-valued logic).
    (
        {"type": "not", "field": {"type": "selector", "dimension": "dim1", "value": "apple"}},
        ["e1", "e2", "e3", "e4", "e5"],
    ),
    (
        {"type": "not", "field": {"type": "regex", "dimension": "dim1", "pattern": "a"}},
        ["e1", "e3", "e4", "e5"],
    ),
    (
        {"type": "not", "field": {"type": "selector", "dimension": "properties", "value": "sweet"}},
        ["e2", "e3", "e4", "e5"],
    ),
    (
        {
            "type": "and",
            "fields": [
                {"type": "selector", "dimension": "properties", "value": "sweet"},
                {"type": "not", "field": {"type": "like", "dimension": "dim1", "pattern": "A%"}},
            ],
        },
        ["e0"],
    ),
    (
        {
            "type": "or",
            "fields": [
                {"type": "selector", "dimension": "dim1", "value": None},
                {"type": "bound", "dimension": "dim1", "lower": 10, "ordering": "numeric"},
            ],
        },
        ["e3", "e4"],
    ),
    (
        {
            "type": "not",
            "field": {
                "type": "not",
                "field": {"type": "selector", "dimension": "dim1", "value": "banana"},
            },
        },
        ["e2"],
    ),
]


@pytest.mark.parametrize(("filters", "expected"), CASES)
def test_filter(
    store: QueryRunner, org: uuid.UUID, filters: dict[str, Any], expected: list[str]
) -> None:
    assert labels(store, org, filters) == expected


def test_group_by_properties_gives_a_row_per_element(store: QueryRunner, org: uuid.UUID) -> None:
    q = query(group_by=["properties"], aggregations=["count", "sum"])
    rows = store.fetch(org, q, Interval(start=T0, end=T0 + timedelta(days=1)), "UTC").data
    assert [row[1:] for row in rows] == [
        [None, 1, 3.0],
        ["100", 1, 5.0],
        ["9", 1, 5.0],
        ["a_b", 1, 6.0],
        ["green", 1, 4.0],
        ["red", 1, 1.0],
        ["sweet", 2, 3.0],
    ]


def test_a_filter_on_properties_keeps_all_elements_of_matching_events(
    store: QueryRunner, org: uuid.UUID
) -> None:
    q = query(
        group_by=["properties"],
        filters={"type": "selector", "dimension": "properties", "value": "red"},
    )
    rows = store.fetch(org, q, Interval(start=T0, end=T0 + timedelta(days=1)), "UTC").data
    assert [row[1:] for row in rows] == [["red", 1], ["sweet", 1]]


def test_metric_types(store: QueryRunner, org: uuid.UUID) -> None:
    q = query(aggregations=["count", "sum", "min", "max", "avg", "label_uniq", "visitor_id_uniq"])
    rows = store.fetch(org, q, Interval(start=T0, end=T0 + timedelta(days=1)), "UTC").data
    assert rows == [["2021-03-28T00:00:00.000+00:00", 6, 21.0, 1.0, 6.0, 3.5, 6, 0]]
    assert [type(v) for v in rows[0][1:]] == [int, float, float, float, float, int, int]


def test_regex_that_re2_cannot_run_is_a_bad_request(store: QueryRunner, org: uuid.UUID) -> None:
    with pytest.raises(InvalidPayload) as caught:
        labels(store, org, {"type": "regex", "dimension": "dim1", "pattern": "a(?=p)"})
    errors = caught.value.errors
    assert errors is not None
    assert errors == [{"loc": ["body", "filters"], "msg": errors[0]["msg"]}]
    assert "(?=" not in caught.value.detail
