"""The calendar cannot overflow: any period, anchor and instant of the supported range.

Issue 9, item 2: targets anchored in the years 1 or 9999 made the worker fail with
OverflowError on every pass. Instants that come in are now refused outside 1970–2999,
and the period code clamps what it is given, so planning never raises — also for a
target stored with an anchor outside the range before that rule existed.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tallybook.evaluations.planning import ScheduleState, TargetCalendar, Timing, plan_target
from tallybook.kit import instants
from tallybook.targets.periods import period_containing, previous_period

ZONES = ["UTC", "Pacific/Kiritimati", "Etc/GMT+12", "Europe/Helsinki", "America/St_Johns"]
TIMING = Timing(
    delay=timedelta(minutes=5), check_interval=timedelta(minutes=5), catch_up_periods=31
)

in_range = st.datetimes(
    min_value=datetime(1970, 1, 1),
    max_value=instants.LATEST.replace(tzinfo=None),
    timezones=st.just(UTC),
)
anywhere = st.datetimes(  # stored before the range was enforced
    min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59), timezones=st.just(UTC)
)
specs = st.builds(
    lambda n, unit: f"P{n}{unit}",
    st.one_of(st.integers(1, 3), st.just(999), st.integers(1, 999)),
    st.sampled_from("DWMY"),
)
edges = st.sampled_from([instants.EARLIEST, instants.LATEST])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    anchor=st.one_of(edges, in_range, anywhere),
    spec=specs,
    notify_spec=specs,
    now=st.one_of(edges, in_range),
    zone=st.sampled_from(ZONES),
    window=st.tuples(st.none() | anywhere, st.none() | anywhere),
    state=st.builds(
        ScheduleState,
        evaluated_until=st.none() | anywhere,
        snapshot_until=st.none() | anywhere,
        checked_at=st.none() | anywhere,
        alerted_period_start=st.none() | anywhere,
    ),
    notify=st.booleans(),
)
def test_planning_never_raises_inside_the_range(
    anchor: datetime,
    spec: str,
    notify_spec: str,
    now: datetime,
    zone: str,
    window: tuple[datetime | None, datetime | None],
    state: ScheduleState,
    notify: bool,
) -> None:
    calendar = TargetCalendar(spec, notify_spec, zone, anchor, *window)
    plan = plan_target(state, calendar, notify, now, TIMING)
    assert plan.next_due > now - TIMING.delay
    assert len(plan.close) <= TIMING.catch_up_periods
    plan.due_after(alerted=True)
    plan.due_after(alerted=False)


@settings(max_examples=300, deadline=None)
@given(
    anchor=st.one_of(edges, in_range, anywhere),
    spec=specs,
    now=st.one_of(edges, in_range),
    zone=st.sampled_from(ZONES),
)
def test_periods_around_any_instant_of_the_range(
    anchor: datetime, spec: str, now: datetime, zone: str
) -> None:
    period = period_containing(now, spec, zone, anchor)
    assert period.start <= now < period.end
    before = previous_period(period, spec, zone)
    assert before.end == period.start and before.start < before.end
    if period.end < instants.END:
        after = period_containing(period.end, spec, zone, anchor)
        assert after.start == period.end


def test_the_probes_targets_are_planned() -> None:
    """The issue's rows: anchors 0001-01-01 (P1D, P7D), 9999-12-31 (P999D), 9999-01-01
    (P999M) in a zone west of UTC and one east of it."""
    now = datetime(2026, 5, 4, 12, tzinfo=UTC)
    for anchor, spec in [
        (datetime(1, 1, 1, tzinfo=UTC), "P1D"),
        (datetime(1, 1, 1, tzinfo=UTC), "P7D"),
        (datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC), "P999D"),
        (datetime(9999, 1, 1, tzinfo=UTC), "P999M"),
    ]:
        for zone in ("America/New_York", "Pacific/Kiritimati"):
            calendar = TargetCalendar(spec, spec, zone, anchor, anchor)
            plan = plan_target(ScheduleState(), calendar, True, now, TIMING)
            assert plan.next_due > now
