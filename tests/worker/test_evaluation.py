"""The worker's schedule end to end on both backends, with BAR cards read back through the API:
closed periods, DST days, catch-up after downtime, ongoing alerts, switches and windows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient

from tallybook.events.store import EventStore
from tallybook.kit.db import Database
from tallybook.worker.loop import Worker
from tests.fixtures.engines import event_engines
from tests.fixtures.tenants import Tenant
from tests.worker.factories import (
    World,
    add_events,
    at,
    attempts,
    chat_cards,
    make_worker,
    new_target,
    notifications,
    world,
)

HEL = "Europe/Helsinki"
(event_store,) = event_engines(module_app=False)  # target evaluation on ClickHouse too


def local_day(evaluation: dict[str, object], zone: str = HEL) -> str:
    start = datetime.fromisoformat(str(evaluation["period_start"]))
    return start.astimezone(ZoneInfo(zone)).date().isoformat()


def evaluations(client: TestClient, w: object) -> list[dict[str, Any]]:
    target = w.target  # type: ignore[attr-defined]
    response = client.get(f"{target.url}/evaluations", headers=target.headers)
    assert response.status_code == 200, response.text
    return list(response.json()["results"])


def test_a_closed_day_is_evaluated_once_and_carded_once(
    client: TestClient, database: Database, event_store: EventStore, new_tenant: object
) -> None:
    tenant: Tenant = new_tenant(timezone=HEL)  # type: ignore[operator]
    target = new_target(client, tenant, target_active_from="2027-03-28T00:00:00+02:00")
    w = world(client, database, target)
    add_events(event_store, tenant.org_id, *[at(HEL, 2027, 3, 28, h) for h in (1, 9, 23)])
    add_events(event_store, tenant.org_id, at(HEL, 2027, 3, 27, 23, 59), at(HEL, 2027, 3, 29))
    worker = make_worker(database, event_store)

    assert worker.run_pass(at(HEL, 2027, 3, 29, 0, 4)).targets == 1  # within the delay
    assert evaluations(client, w) == []
    report = worker.run_pass(at(HEL, 2027, 3, 29, 0, 5))
    assert report.deliveries == {"sent": 1}
    (day,) = evaluations(client, w)
    assert day["period"] == "2027-03-27T22:00:00.000Z/2027-03-28T21:00:00.000Z"  # 23 hours
    assert (day["value"], day["status"], day["is_reached"]) == (0.0 + 3, "not reached", False)
    assert day["has_data"] is True
    (card,) = chat_cards(client, w)
    snapshot = card["attachments"]["reporting_card"]
    assert snapshot["kind"] == "snapshot"
    assert snapshot["lines"][0]["value"] == 3.0
    assert "Europe/Helsinki" in card["message"]

    worker.run_pass(at(HEL, 2027, 3, 29, 0, 10))
    worker.run_pass(at(HEL, 2027, 3, 29, 6))
    assert len(evaluations(client, w)) == 1
    assert len(chat_cards(client, w)) == 1


def test_the_autumn_dst_day_lasts_25_hours(
    client: TestClient, database: Database, event_store: EventStore, new_tenant: object
) -> None:
    tenant: Tenant = new_tenant(timezone=HEL)  # type: ignore[operator]
    target = new_target(client, tenant, target_active_from="2027-10-31T00:00:00+03:00")
    w = world(client, database, target)
    # 03:30 local happens twice on 2027-10-31; both are that day
    first = at(HEL, 2027, 10, 31, 0, 30)
    add_events(event_store, tenant.org_id, first, first + timedelta(hours=3, minutes=30))
    add_events(event_store, tenant.org_id, first + timedelta(hours=4, minutes=30))
    make_worker(database, event_store).run_pass(at(HEL, 2027, 11, 1, 1))
    (day,) = evaluations(client, w)
    assert day["period"] == "2027-10-30T21:00:00.000Z/2027-10-31T22:00:00.000Z"
    assert day["value"] == 3.0


def test_a_week_of_downtime_is_caught_up_with_one_snapshot_not_seven(
    client: TestClient, database: Database, event_store: EventStore, new_tenant: object
) -> None:
    tenant: Tenant = new_tenant(timezone=HEL)  # type: ignore[operator]
    target = new_target(client, tenant, target_active_from="2027-05-01T00:00:00+03:00")
    w = world(client, database, target)
    worker = make_worker(database, event_store)
    worker.run_pass(at(HEL, 2027, 5, 3, 0, 10))  # evaluates May 1 and 2, cards May 2
    assert len(chat_cards(client, w)) == 1
    add_events(event_store, tenant.org_id, *[at(HEL, 2027, 5, d, 12) for d in range(3, 10)])

    worker.run_pass(at(HEL, 2027, 5, 10, 9))  # back after a week away
    days = evaluations(client, w)
    assert [local_day(d) for d in days] == [f"2027-05-{d:02d}" for d in range(9, 0, -1)]
    assert [d["value"] for d in days[:7]] == [1.0] * 7
    cards = chat_cards(client, w)
    assert len(cards) == 2
    latest = cards[0]["attachments"]["reporting_card"]
    assert latest["lines"][0]["start"].startswith("2027-05-08T21:00")  # May 9, local
    assert len(latest["chart"]) == 8


def test_the_history_pages_through_every_period_once(
    client: TestClient, database: Database, event_store: EventStore, new_tenant: object
) -> None:
    """The history is ordered by period, not by when it was computed: nine days computed in
    one pass are paged through 4 at a time, forwards and back, each day once."""
    tenant: Tenant = new_tenant(timezone=HEL)  # type: ignore[operator]
    target = new_target(client, tenant, target_active_from="2027-05-01T00:00:00+03:00")
    make_worker(database, event_store).run_pass(at(HEL, 2027, 5, 10, 9))
    url, pages = f"{target.url}/evaluations?page_size=4", []
    while url:
        response = client.get(url, headers=target.headers)
        assert response.status_code == 200, response.text
        pages.append(response.json())
        url = pages[-1]["next"]
    days = [[local_day(e) for e in page["results"]] for page in pages]
    assert days == [
        ["2027-05-09", "2027-05-08", "2027-05-07", "2027-05-06"],
        ["2027-05-05", "2027-05-04", "2027-05-03", "2027-05-02"],
        ["2027-05-01"],
    ]
    back = client.get(pages[2]["previous"], headers=target.headers).json()
    assert [local_day(e) for e in back["results"]] == days[1]
    assert pages[0]["previous"] is None and pages[2]["next"] is None


def snapshot_lines(client: TestClient, w: object) -> list[list[tuple[str, float]]]:
    """Each snapshot card's (period start, value) lines, oldest card first."""
    cards = [c["attachments"]["reporting_card"] for c in reversed(chat_cards(client, w))]  # type: ignore[arg-type]
    return [
        [(line["start"][:10], line["value"]) for line in card["lines"]]
        for card in cards
        if card["kind"] == "snapshot"
    ]


def _one_event_on_15_september(
    client: TestClient,
    database: Database,
    event_store: EventStore,
    new_tenant: object,
    period: str,
    notify: str,
    active_from: str = "2027-09-01T00:00:00Z",
) -> tuple[World, Worker]:
    """A UTC target active from 1 September 2027 (or ``active_from``), never reached, with
    one event, on 15 September."""
    tenant: Tenant = new_tenant(timezone="UTC")  # type: ignore[operator]
    target = new_target(
        client,
        tenant,
        reporting_period=period,
        notification_period=notify,
        reporting_threshold=1000,
        target_active_from=active_from,
    )
    add_events(event_store, tenant.org_id, at("UTC", 2027, 9, 15, 12))
    return world(client, database, target), make_worker(database, event_store)


def test_a_month_closing_mid_week_is_carded_when_that_week_closes(
    client: TestClient, database: Database, event_store: EventStore, new_tenant: object
) -> None:
    w, worker = _one_event_on_15_september(client, database, event_store, new_tenant, "P1M", "P1W")
    # September ends on Friday 1 October; its week (Mon 27 Sep – Mon 4 Oct) closes on the 4th
    worker.run_pass(at("UTC", 2027, 10, 1, 0, 10))
    assert snapshot_lines(client, w) == []
    worker.run_pass(at("UTC", 2027, 10, 4, 0, 10))  # due then without an edit or a check
    assert snapshot_lines(client, w) == [[("2027-09-01", 1.0)]]
    for day in (11, 18, 25):
        worker.run_pass(at("UTC", 2027, 10, day, 0, 10))  # weeks in which no month ended
    worker.run_pass(at("UTC", 2027, 11, 1, 0, 10))  # October ends on a Monday
    assert snapshot_lines(client, w) == [[("2027-09-01", 1.0)], [("2027-10-01", 0.0)]]


def test_weeks_are_carded_when_their_month_closes_not_at_the_next_week_end(
    client: TestClient, database: Database, event_store: EventStore, new_tenant: object
) -> None:
    w, worker = _one_event_on_15_september(client, database, event_store, new_tenant, "P1W", "P1M")
    worker.run_pass(at("UTC", 2027, 9, 30))
    assert snapshot_lines(client, w) == []
    worker.run_pass(at("UTC", 2027, 10, 1, 0, 10))  # a Friday: September has closed
    weeks = [("2027-08-30", 0.0), ("2027-09-06", 0.0), ("2027-09-13", 1.0), ("2027-09-20", 0.0)]
    assert snapshot_lines(client, w) == [weeks]  # the week ending 4 October is October's
    worker.run_pass(at("UTC", 2027, 10, 4, 0, 10))
    assert len(snapshot_lines(client, w)) == 1


def test_a_year_of_weeks_is_carded_with_its_31_latest(
    client: TestClient, database: Database, event_store: EventStore, new_tenant: object
) -> None:
    """docs/worker.md, Known limits: a snapshot lists at most the 31 latest periods."""
    w, worker = _one_event_on_15_september(
        client, database, event_store, new_tenant, "P1W", "P1Y", "2027-01-04T00:00:00Z"
    )
    monday = datetime(2027, 1, 11, 0, 10, tzinfo=UTC)
    while monday.year == 2027:  # every week evaluated when it closes
        worker.run_pass(monday)
        monday += timedelta(days=7)
    assert snapshot_lines(client, w) == []
    worker.run_pass(at("UTC", 2028, 1, 1, 0, 10))
    (lines,) = snapshot_lines(client, w)
    assert len(lines) == 31  # of the 51 weeks that ended in 2027
    assert (lines[0][0], lines[-1][0]) == ("2027-05-24", "2027-12-20")
    assert ("2027-09-13", 1.0) in lines


def test_an_ongoing_check_alerts_once_per_period(
    client: TestClient, database: Database, event_store: EventStore, new_tenant: object
) -> None:
    tenant: Tenant = new_tenant(timezone=HEL)  # type: ignore[operator]
    target = new_target(
        client, tenant, reporting_threshold=2, target_active_from="2027-06-01T00:00:00+03:00"
    )
    w = world(client, database, target)
    worker = make_worker(database, event_store, check_interval=300)
    add_events(event_store, tenant.org_id, at(HEL, 2027, 6, 1, 8))
    worker.run_pass(at(HEL, 2027, 6, 1, 9))
    assert chat_cards(client, w) == []  # 1 of 2
    add_events(event_store, tenant.org_id, at(HEL, 2027, 6, 1, 9, 30))
    worker.run_pass(at(HEL, 2027, 6, 1, 9, 31))  # checked at 9:00: next check at 9:05
    worker.run_pass(at(HEL, 2027, 6, 1, 10))
    add_events(event_store, tenant.org_id, at(HEL, 2027, 6, 1, 10, 30))
    worker.run_pass(at(HEL, 2027, 6, 1, 11))
    (alert,) = chat_cards(client, w)
    card = alert["attachments"]["reporting_card"]
    assert card["kind"] == "alert"
    assert card["lines"][0]["value"] == 2.0
    assert card["lines"][0]["status"] == "reached"
    rows = notifications(database, target.target_id)
    assert [(r.kind, r.state) for r in rows] == [("alert", "sent")]


def test_an_upper_target_alerts_when_broken(
    client: TestClient, database: Database, event_store: EventStore, new_tenant: object
) -> None:
    tenant: Tenant = new_tenant(timezone="UTC")  # type: ignore[operator]
    target = new_target(
        client,
        tenant,
        reporting_bound="UPPER",
        reporting_threshold=2,
        target_active_from="2027-06-01T00:00:00Z",
    )
    w = world(client, database, target)
    add_events(event_store, tenant.org_id, at("UTC", 2027, 6, 1, 8), at("UTC", 2027, 6, 1, 9))
    make_worker(database, event_store).run_pass(at("UTC", 2027, 6, 1, 12))
    (alert,) = chat_cards(client, w)
    assert alert["attachments"]["reporting_card"]["lines"][0]["status"] == "broken"


def test_switched_off_notifications_still_evaluate_but_send_nothing(
    client: TestClient, database: Database, event_store: EventStore, new_tenant: object
) -> None:
    tenant: Tenant = new_tenant()  # type: ignore[operator]
    target = new_target(
        client,
        tenant,
        reporting_threshold=1,
        are_notifications_active=False,
        target_active_from="2027-07-01T00:00:00Z",
    )
    w = world(client, database, target)
    add_events(event_store, tenant.org_id, at("UTC", 2027, 7, 1, 8))
    worker = make_worker(database, event_store)
    worker.run_pass(at("UTC", 2027, 7, 1, 9))
    worker.run_pass(at("UTC", 2027, 7, 2, 1))
    assert len(evaluations(client, w)) == 1
    assert chat_cards(client, w) == []
    assert notifications(database, target.target_id) == []


def test_a_setting_switched_off_after_queueing_is_cancelled_not_sent(
    client: TestClient, database: Database, event_store: EventStore, new_tenant: object
) -> None:
    tenant: Tenant = new_tenant()  # type: ignore[operator]
    target = new_target(client, tenant, target_active_from="2027-07-01T00:00:00Z")
    world(client, database, target, bar=False)
    response = client.post(
        target.kind("email"),
        json={"email": "digest@example.com", "is_bundleable": True},
        headers=target.headers,
    )
    setting_id = response.json()["id"]
    worker = make_worker(database, event_store, email_bundle_window=600)
    worker.run_pass(at("UTC", 2027, 7, 2, 0, 6))  # queued, waiting for its bundle window
    (row,) = notifications(database, target.target_id)
    assert row.state == "pending"
    client.patch(
        target.kind("email", setting_id),
        json={"is_notification_active": False},
        headers=target.headers,
    )
    worker.run_pass(at("UTC", 2027, 7, 2, 0, 30))
    (row,) = notifications(database, target.target_id)
    assert row.state == "cancelled"
    assert [a.outcome for a in attempts(database, row.id)] == ["cancelled"]


def test_the_active_window_bounds_evaluation(
    client: TestClient, database: Database, event_store: EventStore, new_tenant: object
) -> None:
    tenant: Tenant = new_tenant()  # type: ignore[operator]
    target = new_target(
        client,
        tenant,
        target_active_from="2027-08-01T00:00:00Z",
        target_active_until="2027-08-03T00:00:00Z",
    )
    w = world(client, database, target)
    make_worker(database, event_store).run_pass(at("UTC", 2027, 8, 10))
    assert [d["period"][:10] for d in evaluations(client, w)] == ["2027-08-02", "2027-08-01"]
    assert len(chat_cards(client, w)) == 1  # the latest closed day inside the window
