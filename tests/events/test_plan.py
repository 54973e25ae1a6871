"""The engine-neutral pieces: offsets of a zone over an interval, labels, result shaping."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from tallybook.events.query.language import EventQuery
from tallybook.events.query.plan import FetchPlan
from tallybook.events.query.zones import OffsetChange, local_label, utc_label, zone_offsets

HELSINKI = ZoneInfo("Europe/Helsinki")


def test_offsets_over_a_year() -> None:
    offsets = zone_offsets(
        HELSINKI, datetime(2021, 1, 1, tzinfo=UTC), datetime(2022, 1, 1, tzinfo=UTC)
    )
    assert offsets.initial == 7200
    assert offsets.changes == (
        OffsetChange(datetime(2021, 3, 28, 1), 10800),
        OffsetChange(datetime(2021, 10, 31, 1), 7200),
    )
    fixed = zone_offsets(
        ZoneInfo("Asia/Kathmandu"),
        datetime(2021, 1, 1, tzinfo=UTC),
        datetime(2022, 1, 1, tzinfo=UTC),
    )
    assert (fixed.initial, fixed.changes) == (20700, ())


def test_labels() -> None:
    assert utc_label(datetime(2021, 3, 28, 1), HELSINKI) == "2021-03-28T04:00:00.000+03:00"
    assert local_label(date(2021, 3, 28), HELSINKI) == "2021-03-28T00:00:00.000+02:00"
    # Havana springs forward at midnight: the day starts at 01:00.
    assert (
        local_label(datetime(2021, 3, 14), ZoneInfo("America/Havana"))
        == "2021-03-14T01:00:00.000-04:00"
    )


def test_result_converts_engine_types_when_asked() -> None:
    query = EventQuery.model_validate(
        {
            "vendor": "v",
            "granularity": "day",
            "group_by": ["category"],
            "aggregations": ["count", "sum"],
        }
    )
    plan = FetchPlan.build(
        uuid.uuid4(),
        query,
        datetime(2021, 3, 1, tzinfo=UTC),
        datetime(2021, 4, 1, tzinfo=UTC),
        "UTC",
    )
    result = plan.result([(datetime(2021, 3, 2), "c", Decimal(3), Decimal("2.5"))])
    assert result.data == [["2021-03-02T00:00:00.000+00:00", "c", 3, 2.5]]
    assert [type(v) for v in result.data[0][2:]] == [int, float]
    assert result.fields == [
        {"name": "timestamp", "type": "dimension"},
        {"name": "category", "type": "dimension"},
        {"name": "count", "type": "metric"},
        {"name": "sum", "type": "metric"},
    ]
