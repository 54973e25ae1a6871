"""The bound rule (DESIGN §5) on its own."""

from __future__ import annotations

from typing import get_args

from tallybook.targets.bounds import TargetBound, TargetStatus, is_alerting, is_reached, status_of
from tallybook.targets.schemas import Bound


def test_lower_is_reached_at_the_threshold_and_upper_is_broken_there() -> None:
    assert status_of(TargetBound.LOWER, 10, 10) == "reached"
    assert status_of(TargetBound.LOWER, 9, 10) == "not reached"
    assert status_of(TargetBound.UPPER, 9, 10) == "holds"
    assert status_of(TargetBound.UPPER, 10, 10) == "broken"


def test_a_check_alerts_when_a_lower_target_is_reached_or_an_upper_target_broken() -> None:
    for bound in TargetBound:
        for value in (9.0, 10.0, 11.0):
            alerting = status_of(bound, value, 10) in (TargetStatus.REACHED, TargetStatus.BROKEN)
            assert is_alerting(value, 10) is alerting


def test_reached_means_the_target_is_met() -> None:
    assert is_reached("LOWER", 10, 10) and not is_reached("LOWER", 9, 10)
    assert is_reached("UPPER", 9, 10) and not is_reached("UPPER", 10, 10)


def test_the_api_accepts_exactly_the_stored_bounds() -> None:
    assert set(get_args(Bound)) == {b.value for b in TargetBound}
