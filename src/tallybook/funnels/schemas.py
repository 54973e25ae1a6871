"""Payloads of workflow reporting (seeds 001 and 002) and the shape of its answer."""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Annotated, Any, Final, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    TypeAdapter,
    ValidationError,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import PydanticCustomError

from tallybook.events.query.language import MAX_INTERVAL
from tallybook.funnels.fields import RawField
from tallybook.kit.schemas import InputModel, InputTimestamp

MAX_LIMIT: Final = 999_999_999
MAX_STEPS: Final = 1000
MAX_VALUES: Final = 10_000
"""The most values of one request's filters together, and of its ``step_data``'s actions."""
MAX_INSTANTS: Final = 1000
"""The most ``timestamp`` values of one request's filters: each is a millisecond range."""
MAX_LISTED_STEPS: Final = 50
"""The most steps of ``step_data`` that list actions: each such step is a rule every later
step's events are judged by, so the statement grows with their square."""
_DIGITS: Final = re.compile(r"0*[1-9][0-9]{0,8}")


def _limit(value: Any) -> Any:
    """A positive integer, or the same written as a string of digits (``"2"``)."""
    if isinstance(value, bool):
        raise PydanticCustomError("limit_type", "must be a positive integer, not a boolean")
    if isinstance(value, str):
        if not _DIGITS.fullmatch(value):
            raise PydanticCustomError(
                "limit_type", f"must be a positive integer (at most {MAX_LIMIT})"
            )
        return int(value)
    return value


Limit = Annotated[
    int,
    BeforeValidator(_limit),
    Field(ge=1, le=MAX_LIMIT),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
                {"type": "string", "pattern": f"^{_DIGITS.pattern}$"},
            ]
        }
    ),
]
_INSTANT: TypeAdapter[datetime] = TypeAdapter(InputTimestamp)

FilterValue = Annotated[
    StrictStr | StrictBool | StrictInt | StrictFloat | None, Field(union_mode="left_to_right")
]
"""A value as sent: text fields compare it as text (``1`` as ``"1"``, ``true`` as
``"true"``), ``value`` as a number, ``timestamp`` as an instant."""


class PropertyFilter(InputModel):
    """Rows whose ``property`` has one of ``values`` (see docs/api.md for how each kind of
    field compares). An unknown property is 406, checked before this model."""

    property: RawField
    values: list[FilterValue] = Field(min_length=1, max_length=MAX_VALUES)

    @model_validator(mode="after")
    def _comparable(self) -> PropertyFilter:
        if self.property == "value":
            self.numbers()
        elif self.property == "timestamp":
            self.instants()
        return self

    def texts(self) -> list[str | None]:
        """The values as the stored text of a field is compared with."""
        return [_text(raw) for raw in self.values]

    def numbers(self) -> list[float]:
        """``value``: the numbers asked for (null matches nothing: every event has one)."""
        numbers = []
        for raw in self.values:
            if raw is None:
                continue
            if isinstance(raw, bool):
                raise ValueError("values of `value` must be numbers")
            try:
                number = float(raw)
            except ValueError:
                raise ValueError("values of `value` must be numbers") from None
            if not math.isfinite(number):
                raise ValueError("values of `value` must be finite numbers")
            numbers.append(number)
        return numbers

    def instants(self) -> list[datetime]:
        """``timestamp``: the instants asked for, in UTC."""
        found = []
        for raw in self.values:
            if raw is None:
                continue
            try:
                found.append(_INSTANT.validate_python(raw))
            except ValidationError:
                raise ValueError(
                    "values of `timestamp` must be ISO 8601 date-time strings in the "
                    "supported range"
                ) from None
        return found


def _text(value: str | bool | int | float | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class StepData(InputModel):
    """One step of the chart's path: ``actions`` (page URLs, view uids...) that count at
    that step; absent or empty means every action."""

    actions: list[Annotated[str, Field(max_length=2000)]] | None = Field(
        default=None, max_length=MAX_VALUES
    )


class ReportInterval(InputModel):
    """``[start, end)``: any ISO 8601 offset, a naive time is UTC."""

    start: InputTimestamp
    end: InputTimestamp

    @model_validator(mode="after")
    def _ordered(self) -> ReportInterval:
        if self.end <= self.start:
            raise ValueError("`end` must be after `start`")
        if self.end - self.start > MAX_INTERVAL:
            raise ValueError("the interval may span at most 366 days")
        return self


class _WorkflowRequest(InputModel):
    """What every workflow report reads: the filters, the chart's path and the interval."""

    filters: list[PropertyFilter] = Field(
        max_length=100, description="Every filter must match (an empty list: no filter)."
    )
    step_data: list[StepData] | None = Field(
        default=None,
        max_length=MAX_STEPS,
        description="`step_data[k]` describes step k (0 is the source step, not used).",
    )
    interval: ReportInterval

    @model_validator(mode="after")
    def _bounded(self) -> _WorkflowRequest:
        """What one statement can hold: the limits above, over the request as a whole."""
        if sum(len(f.values) for f in self.filters) > MAX_VALUES:
            raise ValueError(f"the filters may hold at most {MAX_VALUES:,} values in all")
        if sum(len(f.values) for f in self.filters if f.property == "timestamp") > MAX_INSTANTS:
            raise ValueError(f"the filters may hold at most {MAX_INSTANTS:,} timestamps")
        listed = [step.actions for step in self.step_data or () if step.actions]
        if len(listed) > MAX_LISTED_STEPS:
            raise ValueError(f"at most {MAX_LISTED_STEPS} steps of step_data may list actions")
        if sum(len(actions) for actions in listed) > MAX_VALUES:
            raise ValueError(f"step_data may list at most {MAX_VALUES:,} actions in all")
        return self


class _SourceDataRequest(_WorkflowRequest):
    limit: Limit | None = Field(default=None, description="At most this many rows.")
    basic: StrictBool = Field(default=False, description="The 11 human-readable columns.")


class StepSourceRequest(_SourceDataRequest):
    """Seed 001: the events of one step of the funnel, or the goals they triggered."""

    target: Literal["default", "triggered_goal"] = "default"


class WorkflowSourceRequest(_SourceDataRequest):
    """Seed 002: the goal events a workflow affected (interaction workflows only)."""

    target: Literal["affected_goal", "affected_goal_total"] = "affected_goal"


Format = Literal["csv", "xlsx"]


class StepDownloadRequest(StepSourceRequest):
    """Step source data as a file: the same rows and columns."""

    format: Format = Field(default="csv", description="`csv` (UTF-8, a header row) or `xlsx`.")


class WorkflowSourceDownloadRequest(WorkflowSourceRequest):
    """Workflow source data as a file: the same rows and columns."""

    format: Format = Field(default="csv", description="`csv` (UTF-8, a header row) or `xlsx`.")


class FieldDescription(BaseModel):
    name: str
    type: Literal["datetime", "string", "integer", "number"]
    tz: Literal["UTC"] | None = Field(default=None, description="Only on datetime columns.")


class SourceDataResponse(BaseModel):
    fields: list[FieldDescription]
    data: list[dict[str, Any]] = Field(
        description="One object per event, keyed by the names in `fields`, in timestamp order."
    )


class ChartRequest(_WorkflowRequest):
    """The funnel chart: the same `filters`, `step_data` and `interval` as step source
    data (no `limit`, `basic` or `target`)."""


class ActionCounts(BaseModel):
    action: str | None = Field(description="The action id (page URL, view uid, …).")
    events: int = Field(description="Counted events of this action at this step.")
    visitors: int = Field(description="Distinct `visitor_id`s among them.")
    sessions: int = Field(description="Distinct `session_id`s among them.")


class ChartStep(BaseModel):
    index: int = Field(description="0 is the source step, then 1, 2, …")
    name: str | None = Field(description="The step's `dim4` (the least, if its events differ).")
    events: int
    visitors: int
    sessions: int
    conversion: float | None = Field(
        description=(
            "Distinct sessions counted at this step / distinct sessions counted at step 0; "
            "null when step 0 has none."
        )
    )
    actions: list[ActionCounts] = Field(description="Most events first, then by action.")


class ChartLink(BaseModel):
    from_step: int
    from_action: str | None
    to_step: int = Field(description="Always `from_step` + 1.")
    to_action: str | None
    sessions: int = Field(
        description=(
            "Distinct sessions with a counted event of `from_action` at `from_step` and a "
            "counted event of `to_action` at `to_step` at the same time or later."
        )
    )


class ChartResponse(BaseModel):
    steps: list[ChartStep] = Field(
        description="The steps with at least one counted event, by index."
    )
    links: list[ChartLink] = Field(description="The Sankey links between consecutive steps.")
