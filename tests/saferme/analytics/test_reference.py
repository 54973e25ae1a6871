"""Each analytics endpoint against the plain-Python reference, on random data made through
the API (hypothesis), on SQLite and PostgreSQL.

An example is a team with up to three users, two channels with the same form, reports
around the DST changes of 2021 (a few with images, some anonymous, some of the other
channel), reads and alerts, and a random window and time zone; every endpoint is asked
about it and compared with the reference of ``helpers.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tallybook.kit.db import Database
from tests.fixtures.tenants import Tenant
from tests.saferme.analytics.helpers import (
    SELECTION_FIELDS,
    Made,
    Scenario,
    bucket_start,
    chosen_width,
    image_rows,
    make,
    reference_awareness,
    reference_day_hour,
    reference_images,
    reference_over_time,
    reference_per_field_selection,
    reference_per_state,
    reference_per_user,
    reference_reads,
    reference_week_day,
    scenarios,
)

EXAMPLES = settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
READ_FIELDS = "total_reads,unique_reads,report_readers,reports_seen"
AWARENESS_FIELDS = "total_alerts,alert_source_reports,unique_alerts,alerts_opened"


def _instant(text: str) -> datetime:
    assert text.endswith("Z") and len(text) == 24, text  # 2016-11-07T00:00:00.000Z
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def check_over_time(made: Made, answer: list[dict[str, Any]], width: str, zone: str) -> None:
    """The buckets tile the window without gaps, each starts on a local boundary of the
    width, and the reports in each are the reference's."""
    tz, s = ZoneInfo(zone), made.scenario
    assert {(row["account_id"], row["datetime_range_width"]) for row in answer} == {
        (made.channel_id, width)
    }
    starts = [_instant(row["datetime_range_start"]) for row in answer]
    assert starts[0] <= s.start and starts[-1] < s.end
    assert bucket_start(s.start, width, tz) == starts[0]
    assert bucket_start(s.end - timedelta(microseconds=1), width, tz) == starts[-1]
    for start in starts:
        assert bucket_start(start, width, tz) == start, (start, width, zone)
    for before, after in pairwise(starts):
        assert before < after
        assert bucket_start(after - timedelta(microseconds=1), width, tz) == before
    counted = {start: row["report_count"] for start, row in zip(starts, answer, strict=True)}
    assert {k: v for k, v in counted.items() if v} == dict(reference_over_time(made, width, zone))


def _every_endpoint(client: TestClient, made: Made, base_url: str) -> None:
    zone = made.scenario.zone
    tz = {} if zone == "UTC" else {"time_zone": zone}
    assert made.get(client, "reports_per_state") == reference_per_state(made)
    assert made.get(client, "reports_per_user") == reference_per_user(made)
    for label in SELECTION_FIELDS:
        answer = made.get(
            client, "reports_per_field_selection", field_id=made.form.fields[label]["id"]
        )
        assert answer == reference_per_field_selection(made, label), label
    assert made.get(client, "reports_per_day_hour", **tz) == reference_day_hour(made, zone)
    assert made.get(client, "reports_per_week_day", **tz) == reference_week_day(made, zone)
    reads = reference_reads(made)
    assert made.get(client, "reports_read") == {"total_reads": reads["total_reads"]}
    assert made.get(client, "reports_read", fields=READ_FIELDS) == reads
    for name in ("unique_reads", "report_readers", "reports_seen"):
        assert made.get(client, "reports_read", fields=name) == {name: reads[name]}
    awareness = reference_awareness(made)
    assert made.get(client, "user_awareness", fields=AWARENESS_FIELDS) == awareness
    assert made.get(client, "user_awareness") == [
        {k: row[k] for k in ("user_id", "first_name", "last_name", "total_alerts")}
        for row in awareness
    ]
    images = made.get(client, "reports_images")
    assert image_rows(images) == reference_images(made, base_url)
    times = [image["created_at"] for image in images]
    assert times == sorted(times, reverse=True)
    assert {image["account_id"] for image in images} <= {made.channel_id}
    assert len({image["report_image_id"] for image in images}) == len(images)
    width = chosen_width(made.scenario.start, made.scenario.end)
    check_over_time(made, made.get(client, "reports_over_time", **tz), width, zone)


@EXAMPLES
@given(scenario=scenarios(images=True), width=st.sampled_from(["hour", "day", "week", "month"]))
def test_every_endpoint_matches_the_reference(
    client: TestClient,
    database: Database,
    new_tenant: Callable[..., Tenant],
    scenario: Scenario,
    width: str,
) -> None:
    made = make(client, database, new_tenant(), scenario)
    _every_endpoint(client, made, str(client.base_url))
    answer = made.get(client, "reports_over_time", width=width, time_zone=scenario.zone)
    check_over_time(made, answer, width, scenario.zone)


@settings(EXAMPLES, max_examples=4)
@given(scenario=scenarios(images=False))
def test_user_awareness_answers_any_choice_of_fields(
    client: TestClient,
    database: Database,
    new_tenant: Callable[..., Tenant],
    scenario: Scenario,
) -> None:
    """Each field alone and in twos, against the reference: the statement counts only
    what is asked (and the total, which orders the rows), and two fields share a count."""
    made = make(client, database, new_tenant(), scenario)
    awareness = reference_awareness(made)
    for names in (
        ["alert_source_reports"],
        ["unique_alerts"],
        ["alerts_opened"],
        ["alerts_opened", "alert_source_reports"],
        ["unique_alerts", "total_alerts"],
    ):
        expected = [
            {k: row[k] for k in ("user_id", "first_name", "last_name", *names)} for row in awareness
        ]
        assert made.get(client, "user_awareness", fields=",".join(names)) == expected, names
