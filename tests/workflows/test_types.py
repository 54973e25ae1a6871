"""The API's literal for a workflow's type spells exactly the stored enum's values."""

from __future__ import annotations

from typing import get_args

from tallybook.workflows.schemas import WorkflowType as WorkflowTypeLiteral
from tallybook.workflows.types import WorkflowType


def test_the_api_literal_matches_the_stored_types() -> None:
    assert set(get_args(WorkflowTypeLiteral)) == {t.value for t in WorkflowType}
