from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from pydantic import Field, StrictBool, model_validator

from tallybook.events.query.language import EventQuery
from tallybook.kit.schemas import (
    InputTimestamp,
    NotBoolean,
    OutputModel,
    ReadOnly,
    ResourceReadOnly,
    Timestamp,
)

Period = Annotated[
    str,
    Field(
        pattern=r"^P[1-9][0-9]{0,2}[DWMY]$",
        description="ISO 8601 calendar period: P<n>D, P<n>W, P<n>M or P<n>Y with 1 ≤ n ≤ 999.",
        examples=["P1D", "P1W", "P1M"],
    ),
]
Bound = Literal["UPPER", "LOWER"]
Datasource = Literal["GENERIC_REPORTING", "CHAT_SESSIONS", "VISITOR_SESSIONS"]
Threshold = Annotated[
    float,
    NotBoolean,
    Field(allow_inf_nan=False, description="A number; numeric strings are accepted."),
]
AVAILABLE_DATASOURCES = ("GENERIC_REPORTING",)


class _TargetReadOnly(ResourceReadOnly):
    workflow: ReadOnly
    processing_error: ReadOnly


class TargetCreate(_TargetReadOnly):
    name: str = Field(min_length=1, max_length=255)
    reporting_bound: Bound
    reporting_threshold: Threshold
    reporting_query: EventQuery
    reporting_field: str
    reporting_period: Period
    notification_period: Period | None = Field(
        default=None, description="Defaults to (and then follows) `reporting_period`."
    )
    reporting_datasource: Datasource = "GENERIC_REPORTING"
    are_notifications_active: StrictBool = True
    target_active_from: InputTimestamp | None = None
    target_active_until: InputTimestamp | None = None

    @model_validator(mode="after")
    def _consistent(self) -> TargetCreate:
        if self.reporting_field not in self.reporting_query.aggregations:
            raise ValueError(
                "reporting_field must be one of the reporting_query's aggregations "
                f"({', '.join(self.reporting_query.aggregations)})"
            )
        if self.reporting_datasource not in AVAILABLE_DATASOURCES:
            raise ValueError(
                f"the data source {self.reporting_datasource} is not available yet; "
                "use GENERIC_REPORTING"
            )
        if (
            self.target_active_from is not None
            and self.target_active_until is not None
            and self.target_active_until <= self.target_active_from
        ):
            raise ValueError("target_active_until must be after target_active_from")
        return self

    def stored_query(self) -> dict[str, Any]:
        return self.reporting_query.model_dump(mode="json", exclude_unset=True)


class TargetUpdate(_TargetReadOnly):
    """Partial: the fields sent are merged into the target, then the whole is validated."""

    name: str | None = None
    reporting_bound: Bound | None = None
    reporting_threshold: Threshold | None = None
    reporting_query: EventQuery | None = None
    reporting_field: str | None = None
    reporting_period: Period | None = None
    notification_period: Period | None = None
    reporting_datasource: Datasource | None = None
    are_notifications_active: StrictBool | None = None
    target_active_from: InputTimestamp | None = None
    target_active_until: InputTimestamp | None = None


class ProcessingError(OutputModel):
    """The worker's latest failure on a target (cleared by its next success)."""

    error: str = Field(validation_alias="last_error", description="A sentence for a person.")
    error_type: str = Field(
        validation_alias="last_error_type", description="The kind of failure (an exception type)."
    )
    failed_at: Timestamp = Field(validation_alias="last_error_at")
    failures: int = Field(validation_alias="failure_count", description="Failures in a row.")
    next_attempt_at: Timestamp | None = Field(
        validation_alias="next_due_at", description="When the worker tries the target again."
    )


class Target(OutputModel):
    id: uuid.UUID
    organization_id: uuid.UUID
    workflow: uuid.UUID = Field(validation_alias="workflow_id")
    name: str
    reporting_threshold: float
    reporting_query: dict[str, Any]
    reporting_field: str
    reporting_period: str
    notification_period: str = Field(validation_alias="effective_notification_period")
    reporting_datasource: Datasource
    reporting_bound: Bound
    are_notifications_active: bool
    target_active_from: Timestamp | None
    target_active_until: Timestamp | None
    created_at: Timestamp
    modified_at: Timestamp
    processing_error: ProcessingError | None = Field(
        description="Read-only: the worker's latest failure on this target, or null when its "
        "latest processing succeeded (extension)."
    )


class TargetTest(OutputModel):
    workflow: str
    target: str
    selected_period: str
    timespan_requested: str
    value: float
    threshold: float
    bound: Bound
    is_reached: bool
