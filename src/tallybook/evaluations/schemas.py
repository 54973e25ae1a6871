from __future__ import annotations

import uuid

from pydantic import Field, computed_field

from tallybook.kit.schemas import OutputModel, Timestamp, format_timestamp


class EvaluationOut(OutputModel):
    """A target's value over one closed reporting period, as the worker computed it."""

    id: uuid.UUID
    target: uuid.UUID = Field(validation_alias="target_id")
    period_start: Timestamp
    period_end: Timestamp
    value: float = Field(description="0 when no event matched (see `has_data`).")
    has_data: bool = Field(description="Whether any event matched the target's query.")
    threshold: float = Field(description="The threshold when the period was evaluated.")
    bound: str
    status: str = Field(description="LOWER: `reached`/`not reached`; UPPER: `holds`/`broken`.")
    is_reached: bool
    computed_at: Timestamp = Field(validation_alias="created_at")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def period(self) -> str:
        return f"{format_timestamp(self.period_start)}/{format_timestamp(self.period_end)}"
