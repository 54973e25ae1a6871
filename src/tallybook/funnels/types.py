"""Named values of workflow reporting, as the API spells them.

The request schemas spell the same values as ``Literal``s (so the OpenAPI document keeps
them inline); a test checks that each matches its enum here.
"""

from __future__ import annotations

from enum import StrEnum


class StepTarget(StrEnum):
    """What step source data returns (seed 001's ``target``)."""

    DEFAULT = "default"  # the step's own events
    TRIGGERED_GOAL = "triggered_goal"  # goal events of the sessions that reached the step


class SourceTarget(StrEnum):
    """What workflow source data returns (seed 002's ``target``)."""

    AFFECTED_GOAL = "affected_goal"  # goal events of visitors the workflow reached before
    AFFECTED_GOAL_TOTAL = "affected_goal_total"  # every goal event of the organisation


class Rows(StrEnum):
    """The rows a source-data query selects: one of the four relations of
    :mod:`tallybook.funnels.paths`."""

    STEP = "step"
    TRIGGERED_GOAL = "triggered_goal"
    AFFECTED_GOAL = "affected_goal"
    ALL_GOALS = "all_goals"
