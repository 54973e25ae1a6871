"""The event query language of DESIGN §4 as typed objects.

A target's ``reporting_query`` is an :class:`EventQuery`; the fetch endpoint adds an
:class:`Interval`. Dimension names are checked against an allow-list here, so nothing
from a client reaches SQL as an identifier.
"""

from __future__ import annotations

import math
import re
from datetime import timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from tallybook.kit.body import MAX_JSON_DEPTH, value_depth
from tallybook.kit.schemas import InputTimestamp, NotBoolean, StorableText
from tallybook.kit.timezones import check_timezone

Granularity = Literal[
    "all",
    "minute",
    "fifteen_minute",
    "thirty_minute",
    "hour",
    "day",
    "week",
    "month",
    "year",
]
Aggregation = Literal[
    "count",
    "sum",
    "min",
    "max",
    "avg",
    "category_uniq",
    "action_uniq",
    "label_uniq",
    "visitor_id_uniq",
    "session_id_uniq",
    "user_id_uniq",
]
Source = Literal["untrusted", "trusted", "external"]
Dimension = Literal[
    "source",
    "event_version",
    "vendor",
    "category",
    "action",
    "label",
    "organization_id",
    "properties",
    "dim1",
    "dim2",
    "dim3",
    "dim4",
    "dim5",
    "visitor_id",
    "session_id",
    "user_id",
    "browser_name",
    "browser_version",
    "device_screen_height",
    "device_screen_width",
    "device_type",
    "geo_city",
    "geo_country",
    "ip_organization",
    "os_name",
    "os_version",
    "organization_name",
    "partner_organization_ids",
]
SOURCES: tuple[str, ...] = get_args(Source)
GRANULARITIES: tuple[str, ...] = get_args(Granularity)
AGGREGATIONS: tuple[str, ...] = get_args(Aggregation)
DIMENSIONS: tuple[str, ...] = get_args(Dimension)
MULTI_VALUE_DIMENSIONS = ("properties", "partner_organization_ids")


class FilterType(StrEnum):
    """The ``type`` of a filter node (DESIGN §4)."""

    SELECTOR = "selector"
    IN = "in"
    REGEX = "regex"
    LIKE = "like"
    SEARCH = "search"
    BOUND = "bound"
    AND = "and"
    OR = "or"
    NOT = "not"


FILTER_TYPES: tuple[str, ...] = tuple(FilterType)
MAX_INTERVAL = timedelta(days=366)

FilterValue = Annotated[str | int | float | bool | None, Field(union_mode="left_to_right")]


def _scalar_text(value: FilterValue) -> str | None:
    """Filter values are compared with the stored text of a dimension."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("must be a finite number")
        return repr(int(value)) if value.is_integer() else repr(value)
    return str(value)


class _Filter(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SelectorFilter(_Filter):
    type: Literal["selector"]
    dimension: Dimension
    value: FilterValue = Field(description="`null` matches events without the dimension.")

    @field_validator("value")
    @classmethod
    def _text(cls, value: FilterValue) -> str | None:
        return _scalar_text(value)


class InFilter(_Filter):
    type: Literal["in"]
    dimension: Dimension
    values: list[FilterValue] = Field(min_length=1, max_length=10_000)

    @field_validator("values")
    @classmethod
    def _texts(cls, values: list[FilterValue]) -> list[str | None]:
        return [_scalar_text(v) for v in values]


class RegexFilter(_Filter):
    type: Literal["regex"]
    dimension: Dimension
    pattern: str = Field(min_length=1, max_length=1000)

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, pattern: str) -> str:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression ({exc.msg})") from None
        return pattern


class LikeFilter(_Filter):
    type: Literal["like"]
    dimension: Dimension
    pattern: str = Field(min_length=1, max_length=1000)


class SearchQuery(_Filter):
    type: Literal["contains", "insensitive_contains"]
    value: str = Field(max_length=1000)


class SearchFilter(_Filter):
    type: Literal["search"]
    dimension: Dimension
    query: SearchQuery


BoundNumber = Annotated[float, NotBoolean]
"""A bound's limit may be a number or text; ``true`` is neither."""


class BoundFilter(_Filter):
    type: Literal["bound"]
    dimension: Dimension
    lower: str | BoundNumber | None = Field(default=None, union_mode="left_to_right")
    upper: str | BoundNumber | None = Field(default=None, union_mode="left_to_right")
    lowerStrict: bool = False
    upperStrict: bool = False
    ordering: Literal["lexicographic", "numeric"] = "lexicographic"

    @model_validator(mode="after")
    def _consistent(self) -> BoundFilter:
        if self.lower is None and self.upper is None:
            raise ValueError("a bound filter needs `lower`, `upper` or both")
        if self.ordering == "numeric":
            for name in ("lower", "upper"):
                raw = getattr(self, name)
                if raw is None:
                    continue
                try:
                    number = float(raw)
                except ValueError:
                    raise ValueError(f"`{name}` must be a number for numeric ordering") from None
                if not math.isfinite(number):
                    raise ValueError(f"`{name}` must be a finite number")
        return self


class AndFilter(_Filter):
    type: Literal["and"]
    fields: list[Filter] = Field(min_length=1, max_length=1000)


class OrFilter(_Filter):
    type: Literal["or"]
    fields: list[Filter] = Field(min_length=1, max_length=1000)


class NotFilter(_Filter):
    type: Literal["not"]
    field: Filter


Filter = Annotated[
    SelectorFilter
    | InFilter
    | RegexFilter
    | LikeFilter
    | SearchFilter
    | BoundFilter
    | AndFilter
    | OrFilter
    | NotFilter,
    Field(discriminator="type"),
]

for _model in (AndFilter, OrFilter, NotFilter):
    _model.model_rebuild()


def unknown_filter_types(raw: Any) -> set[str]:
    """Filter ``type`` values in a raw filter tree that the language does not know (→ 406)."""
    found: set[str] = set()
    if not isinstance(raw, dict):
        return found
    kind = raw.get("type")
    if isinstance(kind, str) and kind not in FILTER_TYPES:
        found.add(kind)
    for child in raw.get("fields", []) if isinstance(raw.get("fields"), list) else []:
        found |= unknown_filter_types(child)
    found |= unknown_filter_types(raw.get("field"))
    return found


def _all_sources() -> list[Source]:
    return ["untrusted", "trusted", "external"]


def _count_only() -> list[Aggregation]:
    return ["count"]


class EventQuery(StorableText):
    """A query without its interval: what a target stores as ``reporting_query``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    vendor: str = Field(min_length=1, max_length=255)
    granularity: Granularity = "all"
    sources: list[Source] = Field(default_factory=_all_sources, min_length=1)
    aggregations: list[Aggregation] = Field(default_factory=_count_only, min_length=1)
    group_by: list[Dimension] = Field(default_factory=list, max_length=10)
    filters: Filter | None = None

    @model_validator(mode="before")
    @classmethod
    def _not_too_deep(cls, data: Any) -> Any:
        # The rule of every request body, kept by the query itself: a stored target's query
        # is checked again on each load, and nothing deeper reaches the recursive steps
        # (validation of the filter tree, rendering, the database's parser).
        if value_depth(data) > MAX_JSON_DEPTH:
            raise ValueError(
                f"the query nests objects and arrays more than {MAX_JSON_DEPTH} levels deep"
            )
        return data

    @field_validator("filters", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        return None if value == {} else value

    @field_validator("sources", "aggregations", "group_by")
    @classmethod
    def _unique(cls, values: list[str]) -> list[str]:
        return list(dict.fromkeys(values))


class Interval(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    start: InputTimestamp
    end: InputTimestamp
    time_zone: str | None = Field(
        default=None, description="IANA name; defaults to the organisation's timezone."
    )

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None:
            check_timezone(value)
        return value

    @model_validator(mode="after")
    def _ordered(self) -> Interval:
        if self.end <= self.start:
            raise ValueError("`end` must be after `start`")
        if self.end - self.start > MAX_INTERVAL:
            raise ValueError("the interval may span at most 366 days")
        return self
