"""Delivery through the outbox to real servers: retries, Retry-After, configuration errors,
e-mail down then back, digests, charts, and the delivery log (both backends)."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from tallybook.events.store import EventStore
from tallybook.kit.db import Database
from tallybook.notifications.models import Notification, NotificationSetting
from tallybook.notifications.outbox import states
from tallybook.worker.loop import Worker
from tests.fixtures.slack_server import SlackServer
from tests.fixtures.smtp_server import SmtpServer
from tests.fixtures.tenants import Tenant
from tests.notifications.factories import TargetPath, create
from tests.worker.factories import (
    add_events,
    at,
    chat_cards,
    make_worker,
    new_target,
    notifications,
    world,
)

CLOSED = at("UTC", 2027, 9, 2, 0, 10)  # Sep 1 is closed and due
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")  # DESIGN §3


def _target(client: TestClient, tenant: Tenant, **overrides: Any) -> TargetPath:
    return new_target(client, tenant, target_active_from="2027-09-01T00:00:00Z", **overrides)


def _setting(client: TestClient, target: TargetPath, kind: str) -> dict[str, Any]:
    response = client.get(target.kind(kind), headers=target.headers)
    assert response.status_code == 200
    (setting,) = response.json()
    return dict(setting)


def _mail_worker(
    database: Database, event_store: EventStore, smtp_server: SmtpServer, **options: Any
) -> Worker:
    return make_worker(
        database,
        event_store,
        smtp_host=smtp_server.host,
        smtp_port=smtp_server.port,
        **options,
    )


def _digest_targets(
    client: TestClient, tenant: Tenant, *addresses: str
) -> tuple[TargetPath, TargetPath]:
    """Two targets, Leads and Sales, each with a bundleable e-mail setting."""
    first = _target(client, tenant, name="Leads")
    second = _target(client, tenant, name="Sales")
    for target, address in zip((first, second), addresses, strict=True):
        create(client, target, "email", {"email": address, "is_bundleable": True})
    return first, second


def _the_one_mail_text(smtp_server: SmtpServer) -> str:
    (mail,) = smtp_server.received
    body = mail.message.get_body(("plain",))
    assert body is not None
    return str(body.get_content())


def _token_target(client: TestClient, tenant: Tenant, event_store: EventStore) -> TargetPath:
    """A target with a bot-token Slack setting and an event on its closed day."""
    target = _target(client, tenant)
    create(client, target, "slack", {"token": "xoxb-good-token-123456", "channel": "C0ABCDEF1"})
    add_events(event_store, tenant.org_id, at("UTC", 2027, 9, 1, 12))
    return target


def _log(client: TestClient, target: TargetPath) -> list[dict[str, Any]]:
    response = client.get(f"{target.notifications}/log", headers=target.headers)
    assert response.status_code == 200, response.text
    return list(response.json()["results"])


def test_slack_429_waits_for_its_retry_after(
    client: TestClient,
    database: Database,
    event_store: EventStore,
    tenant: Tenant,
    slack_server: SlackServer,
) -> None:
    target = _target(client, tenant)
    create(client, target, "slack", {"incoming_webhook_url": slack_server.webhook_url("a")})
    slack_server.rate_limit(7, key="hooks")
    worker = make_worker(database, event_store)
    assert worker.run_pass(CLOSED).deliveries == {"retry": 1}
    (row,) = notifications(database, target.target_id)
    assert row.state == "pending"
    assert timedelta(seconds=7) <= row.next_attempt_at - CLOSED < timedelta(seconds=12)
    assert worker.deliver(CLOSED + timedelta(seconds=6)) == {}
    assert worker.deliver(row.next_attempt_at) == {"sent": 1}
    assert len(slack_server.messages) == 1
    (entry,) = _log(client, target)
    assert entry["state"] == "sent"
    assert [a["outcome"] for a in entry["attempt_log"]] == ["retry", "sent"]
    assert "rate-limited" in entry["attempt_log"][0]["error"]
    assert _setting(client, target, "slack")["last_notification_sent"] is not None


def test_retry_after_counts_from_the_429_not_from_the_start_of_the_pass(
    client: TestClient,
    database: Database,
    event_store: EventStore,
    tenant: Tenant,
    slack_server: SlackServer,
) -> None:
    target = _target(client, tenant)
    create(client, target, "slack", {"incoming_webhook_url": slack_server.webhook_url("s")})
    slack_server.rate_limit(1, key="hooks", delay=2.0)  # a slow answer, as under load
    worker = make_worker(database, event_store)
    assert worker.run_pass(CLOSED).deliveries == {"retry": 1}
    (row,) = notifications(database, target.target_id)
    assert row.next_attempt_at - CLOSED >= timedelta(seconds=3)  # 2 s into the pass, + 1 s
    assert worker.deliver(CLOSED + timedelta(seconds=2.5)) == {}
    assert worker.deliver(row.next_attempt_at) == {"sent": 1}
    assert len(slack_server.messages) == 1


def test_retry_after_zero_waits_for_the_next_pass_not_a_loop(
    client: TestClient,
    database: Database,
    event_store: EventStore,
    tenant: Tenant,
    slack_server: SlackServer,
) -> None:
    target = _target(client, tenant)
    create(client, target, "slack", {"incoming_webhook_url": slack_server.webhook_url("z")})
    slack_server.rate_limit(0, key="hooks", times=50)
    worker = make_worker(database, event_store)
    assert worker.run_pass(CLOSED).deliveries == {"retry": 1}
    assert slack_server.calls.count("hooks/z") == 1


@pytest.mark.parametrize("retry_after", [10**12, "inf", "nan"])
def test_a_retry_after_of_ages_waits_at_most_until_the_retries_give_up(
    client: TestClient,
    database: Database,
    event_store: EventStore,
    tenant: Tenant,
    slack_server: SlackServer,
    retry_after: float | str,
) -> None:
    """A Retry-After of 10^12 seconds overflowed the clock while the pass recorded its
    results, so nothing was recorded and the card beside it was sent again at every pass."""
    target = _target(client, tenant)
    create(client, target, "slack", {"incoming_webhook_url": slack_server.webhook_url("far")})
    create(client, target, "slack", {"incoming_webhook_url": slack_server.webhook_url("ok")})
    slack_server.rate_limit(retry_after, key="hooks/far", times=100)
    worker = make_worker(database, event_store)
    assert worker.run_pass(CLOSED).deliveries == {"retry": 1, "sent": 1}
    waiting = [row for row in notifications(database, target.target_id) if row.state == "pending"]
    (row,) = waiting
    assert row.next_attempt_at - CLOSED <= timedelta(hours=24, minutes=1)
    worker.run_pass(CLOSED + timedelta(hours=1))
    assert slack_server.calls.count("hooks/ok") == 1  # sent once, recorded once


def test_what_was_sent_stays_recorded_when_recording_the_rest_fails(
    client: TestClient,
    database: Database,
    event_store: EventStore,
    tenant: Tenant,
    slack_server: SlackServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Recording a retry breaks (a fault injected in the outbox's states): the card that
    went out is recorded sent all the same, and is not sent again on the next pass."""
    target = _target(client, tenant)
    create(client, target, "slack", {"incoming_webhook_url": slack_server.webhook_url("slow")})
    create(client, target, "slack", {"incoming_webhook_url": slack_server.webhook_url("ok")})
    slack_server.rate_limit(5, key="hooks/slow", times=100)

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(states, "mark_retry", broken)
    worker = make_worker(database, event_store, lease_seconds=1)
    assert worker.run_pass(CLOSED).deliveries == {"error": 2}
    assert {row.state for row in notifications(database, target.target_id)} == {
        "sent",
        "pending",
    }
    monkeypatch.undo()
    worker.deliver(CLOSED + timedelta(minutes=5))
    assert slack_server.calls.count("hooks/ok") == 1


def test_server_errors_back_off_exponentially_and_give_up_after_a_day(
    client: TestClient,
    database: Database,
    event_store: EventStore,
    tenant: Tenant,
    slack_server: SlackServer,
) -> None:
    target = _target(client, tenant)
    create(client, target, "slack", {"incoming_webhook_url": slack_server.webhook_url("b")})
    slack_server.server_error(key="hooks", times=100)
    worker = make_worker(database, event_store)
    worker.run_pass(CLOSED)
    waits = []
    now = CLOSED
    for _ in range(8):
        (row,) = notifications(database, target.target_id)
        waits.append((row.next_attempt_at - now).total_seconds())
        now = row.next_attempt_at
        worker.deliver(now)
    # each wait runs from the failure, a moment after the instant the pass started at
    expected = [30, 60, 120, 240, 480, 960, 1920, 3600]
    assert [0 <= w - e < 5 for w, e in zip(waits, expected, strict=True)] == [True] * 8
    worker.deliver(CLOSED + timedelta(hours=25))
    (row,) = notifications(database, target.target_id)
    assert row.state == "failed"
    setting = _setting(client, target, "slack")
    assert setting["last_notification_sent"] is None
    assert setting["last_error"].startswith("Gave up after")
    assert slack_server.messages == []


def test_three_configuration_errors_in_a_row_switch_the_setting_off(
    client: TestClient,
    database: Database,
    event_store: EventStore,
    tenant: Tenant,
    slack_server: SlackServer,
) -> None:
    target = _target(client, tenant, reporting_threshold=1)
    token = "xoxb-revoked-token-1234567890"
    create(
        client,
        target,
        "slack",
        {"token": token, "channel": "C0ABCDEF1"},
    )
    slack_server.api_error("invalid_auth", times=10)
    worker = make_worker(database, event_store, slack_api_url=slack_server.api_url)
    for day in (2, 3, 4):  # a snapshot each day, each refused
        worker.run_pass(at("UTC", 2027, 9, day, 0, 10))
    setting = _setting(client, target, "slack")
    assert setting["is_notification_active"] is False
    assert "invalid_auth" in setting["last_error"]
    assert token not in setting["last_error"]
    assert setting["last_notification_sent"] is None
    rows = notifications(database, target.target_id)
    assert [r.state for r in rows] == ["failed"] * 3
    assert {r.attempts for r in rows} == {1}  # not retried
    worker.run_pass(at("UTC", 2027, 9, 5, 0, 10))
    assert len(notifications(database, target.target_id)) == 3  # switched off: nothing queued


def test_smtp_down_then_back_delivers_after_the_retry(
    client: TestClient,
    database: Database,
    event_store: EventStore,
    tenant: Tenant,
    smtp_server: SmtpServer,
) -> None:
    target = _target(client, tenant)
    create(client, target, "email", {"email": "team@example.com"})
    add_events(event_store, tenant.org_id, at("UTC", 2027, 9, 1, 12))
    worker = _mail_worker(database, event_store, smtp_server, smtp_from="reports@tallybook.test")
    smtp_server.stop()
    assert worker.run_pass(CLOSED).deliveries == {"retry": 1}
    smtp_server.start()
    assert worker.deliver(CLOSED + timedelta(seconds=29)) == {}
    (row,) = notifications(database, target.target_id)
    assert worker.deliver(row.next_attempt_at) == {"sent": 1}
    (mail,) = smtp_server.received
    assert mail.rcpt_tos == ("team@example.com",)
    assert mail.message.is_multipart()
    images = [p for p in mail.message.walk() if p.get_content_type() == "image/png"]
    assert len(images) == 1
    (entry,) = _log(client, target)
    assert [a["outcome"] for a in entry["attempt_log"]] == ["retry", "sent"]
    assert _setting(client, target, "email")["last_notification_sent"] is not None


def test_smtp_550_is_a_configuration_error(
    client: TestClient,
    database: Database,
    event_store: EventStore,
    tenant: Tenant,
    smtp_server: SmtpServer,
) -> None:
    target = _target(client, tenant)
    create(client, target, "email", {"email": "nobody@example.com"})
    smtp_server.refuse_next(code=550, at="rcpt")
    worker = _mail_worker(database, event_store, smtp_server)
    assert worker.run_pass(CLOSED).deliveries == {"rejected": 1}
    setting = _setting(client, target, "email")
    assert setting["last_error"] and "550" in setting["last_error"]
    assert setting["is_notification_active"] is True  # one error of three


def test_bundleable_settings_to_one_address_get_one_digest(
    client: TestClient,
    database: Database,
    event_store: EventStore,
    tenant: Tenant,
    smtp_server: SmtpServer,
) -> None:
    first, second = _digest_targets(client, tenant, "Team@Example.com", "team@example.com")
    worker = _mail_worker(database, event_store, smtp_server, email_bundle_window=600)
    worker.run_pass(CLOSED)  # 00:10 exactly: the window 00:10–00:20 ends at 00:20
    assert smtp_server.received == []
    assert worker.deliver(at("UTC", 2027, 9, 2, 0, 20)) == {"sent": 1}
    text = _the_one_mail_text(smtp_server)
    assert "Leads" in text and "Sales" in text
    for target in (first, second):
        (row,) = notifications(database, target.target_id)
        assert row.state == "sent"


def test_a_card_waiting_for_its_digest_follows_its_settings_new_address(
    client: TestClient,
    database: Database,
    event_store: EventStore,
    tenant: Tenant,
    smtp_server: SmtpServer,
) -> None:
    """DESIGN §6: cards due to one address within the window go out as one digest, to the
    address each setting has at delivery time, even when it changed after queueing."""
    _, second = _digest_targets(client, tenant, "team@example.com", "other@example.com")
    worker = _mail_worker(database, event_store, smtp_server, email_bundle_window=600)
    worker.run_pass(CLOSED)
    moved = _setting(client, second, "email")
    url = f"{second.kind('email')}/{moved['id']}"
    changed = client.patch(url, json={"email": "Team@example.com"}, headers=second.headers)
    assert changed.status_code == 200, changed.text
    assert worker.deliver(at("UTC", 2027, 9, 2, 0, 20)) == {"sent": 1}
    text = _the_one_mail_text(smtp_server)  # one e-mail, both cards in it
    assert "Leads" in text and "Sales" in text


def test_a_digest_that_fails_is_retried_as_one_digest(
    client: TestClient,
    database: Database,
    event_store: EventStore,
    tenant: Tenant,
    smtp_server: SmtpServer,
) -> None:
    first, second = _digest_targets(client, tenant, "team@example.com", "team@example.com")
    worker = _mail_worker(database, event_store, smtp_server, email_bundle_window=600)
    worker.run_pass(CLOSED)
    with database.unit_of_work() as session:  # one card has failed before, on its own
        session.execute(
            update(Notification)
            .where(Notification.target_id == uuid.UUID(first.target_id))
            .values(attempts=3)
        )
    smtp_server.stop()
    assert worker.deliver(at("UTC", 2027, 9, 2, 0, 20)) == {"retry": 1}
    rows = [*notifications(database, first.target_id), *notifications(database, second.target_id)]
    assert len({row.next_attempt_at for row in rows}) == 1
    smtp_server.start()
    assert worker.deliver(rows[0].next_attempt_at) == {"sent": 1}
    text = _the_one_mail_text(smtp_server)
    assert "Leads" in text and "Sales" in text


def test_a_token_card_carries_its_chart(
    client: TestClient,
    database: Database,
    event_store: EventStore,
    tenant: Tenant,
    slack_server: SlackServer,
) -> None:
    _token_target(client, tenant, event_store)
    worker = make_worker(database, event_store, slack_api_url=slack_server.api_url)
    assert worker.run_pass(CLOSED).deliveries == {"sent": 1}
    (message,) = slack_server.messages
    (file_id,) = slack_server.image_file_ids(message)
    upload = slack_server.uploads[file_id]
    assert upload.data is not None and upload.data.startswith(b"\x89PNG")
    assert message["channel"] == "C0ABCDEF1"


def test_slack_429_while_uploading_the_chart_retries_the_whole_card(
    client: TestClient,
    database: Database,
    event_store: EventStore,
    tenant: Tenant,
    slack_server: SlackServer,
) -> None:
    target = _token_target(client, tenant, event_store)
    slack_server.rate_limit(40, key="files.getUploadURLExternal")
    worker = make_worker(database, event_store, slack_api_url=slack_server.api_url)
    assert worker.run_pass(CLOSED).deliveries == {"retry": 1}
    assert "chat.postMessage" not in slack_server.calls
    assert slack_server.messages == []
    (row,) = notifications(database, target.target_id)
    assert row.state == "pending"
    assert row.next_attempt_at is not None
    assert row.next_attempt_at >= CLOSED + timedelta(seconds=40)
    assert worker.deliver(row.next_attempt_at - timedelta(seconds=1)) == {}
    assert worker.deliver(row.next_attempt_at) == {"sent": 1}
    assert slack_server.calls.count("chat.postMessage") == 1
    (message,) = slack_server.messages
    (file_id,) = slack_server.image_file_ids(message)
    upload = slack_server.uploads[file_id]
    assert upload.completed and upload.data is not None and upload.data.startswith(b"\x89PNG")
    (entry,) = _log(client, target)
    assert entry["state"] == "sent"
    assert [a["outcome"] for a in entry["attempt_log"]] == ["retry", "sent"]
    assert "rate-limited uploading the chart" in entry["attempt_log"][0]["error"]


def test_card_timestamps_in_the_log_and_the_chat_are_in_the_api_format(
    client: TestClient,
    database: Database,
    event_store: EventStore,
    tenant: Tenant,
) -> None:
    w = world(client, database, _target(client, tenant))
    add_events(event_store, tenant.org_id, at("UTC", 2027, 9, 1, 12))
    assert make_worker(database, event_store).run_pass(CLOSED).deliveries == {"sent": 1}
    (entry,) = _log(client, w.target)
    (chat_card,) = chat_cards(client, w)
    for card in (entry["card"], chat_card["attachments"]["reporting_card"]):
        (line,) = card["lines"]
        assert (line["start"], line["end"]) == (
            "2027-09-01T00:00:00.000Z",
            "2027-09-02T00:00:00.000Z",
        )
        assert card["chart"] and card["chart"][-1]["start"] == "2027-09-01T00:00:00.000Z"
        for point in card["chart"]:
            assert TIMESTAMP.fullmatch(point["start"]), point


def test_a_card_stored_in_the_older_offset_form_is_still_delivered(
    client: TestClient,
    database: Database,
    event_store: EventStore,
    tenant: Tenant,
) -> None:
    w = world(client, database, _target(client, tenant))
    add_events(event_store, tenant.org_id, at("UTC", 2027, 9, 1, 12))
    worker = make_worker(database, event_store)
    worker.evaluate(CLOSED)  # queued, not delivered
    (row,) = notifications(database, w.target.target_id)
    older = dict(row.card)
    older["lines"] = [
        {**line, "start": "2027-09-01T00:00:00+00:00", "end": "2027-09-02T00:00:00+00:00"}
        for line in row.card["lines"]
    ]
    older["chart"] = [
        {**point, "start": point["start"].replace(".000Z", "+00:00")} for point in row.card["chart"]
    ]
    with database.unit_of_work() as session:
        stored = session.get(Notification, row.id)
        assert stored is not None
        stored.card = older
    assert worker.deliver(CLOSED) == {"sent": 1}
    (chat_card,) = chat_cards(client, w)
    assert "Value: 1" in chat_card["message"]
    assert chat_card["attachments"]["reporting_card"]["lines"][0]["start"].endswith("+00:00")


def test_a_malformed_stored_webhook_url_is_a_configuration_error_not_a_retry(
    client: TestClient,
    database: Database,
    event_store: EventStore,
    tenant: Tenant,
    slack_server: SlackServer,
) -> None:
    """A URL the API now refuses, stored before or written to the database directly: the
    HTTP client cannot parse it, which no later try changes."""
    target = _target(client, tenant)
    create(client, target, "slack", {"incoming_webhook_url": slack_server.webhook_url("m")})
    malformed = "https://１２７.０.０.１:8791/fw"
    with database.unit_of_work() as session:
        session.execute(
            update(NotificationSetting)
            .where(NotificationSetting.target_id == uuid.UUID(target.target_id))
            .values(incoming_webhook_url=malformed)
        )
    worker = make_worker(database, event_store)
    assert worker.run_pass(CLOSED).deliveries == {"rejected": 1}
    (row,) = notifications(database, target.target_id)
    assert row.state == "failed"
    assert row.attempts == 1
    (entry,) = _log(client, target)
    assert [a["outcome"] for a in entry["attempt_log"]] == ["rejected"]
    setting = _setting(client, target, "slack")
    assert setting["last_error"] == "The URL cannot be requested: its host or port is malformed."
    assert malformed not in setting["last_error"]
    assert worker.deliver(CLOSED + timedelta(hours=2)) == {}  # nothing left to retry
    assert slack_server.calls == []
