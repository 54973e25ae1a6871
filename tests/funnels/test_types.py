"""The API's literals spell the enums' values, and the columns are the seeds'."""

from __future__ import annotations

from typing import get_args

from tallybook.events.query.language import DIMENSIONS
from tallybook.funnels.fields import BASIC_COLUMNS, RAW_COLUMNS, RAW_FIELDS
from tallybook.funnels.schemas import StepSourceRequest, WorkflowSourceRequest
from tallybook.funnels.types import SourceTarget, StepTarget


def _literal(model: type[StepSourceRequest] | type[WorkflowSourceRequest]) -> set[str]:
    return set(get_args(model.model_fields["target"].annotation))


def test_target_literals_match_the_enums() -> None:
    assert _literal(StepSourceRequest) == {t.value for t in StepTarget}
    assert _literal(WorkflowSourceRequest) == {t.value for t in SourceTarget}


def test_the_raw_fields_are_every_event_column() -> None:
    """Seed 001's 30 raw fields are the query language's dimensions plus timestamp and
    value: a column added to events must be added to the answer too."""
    assert len(RAW_FIELDS) == 30 == len(set(RAW_FIELDS))
    assert set(RAW_FIELDS) == {*DIMENSIONS, "timestamp", "value"}
    assert [c.event_column for c in RAW_COLUMNS] == list(RAW_FIELDS)
    assert len(BASIC_COLUMNS) == 11
    assert {c.event_column for c in BASIC_COLUMNS} - {None} <= set(RAW_FIELDS)
