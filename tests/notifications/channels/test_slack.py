"""Slack delivery against a real HTTP server that answers like Slack."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import pytest

from tallybook.notifications.cards import render
from tallybook.notifications.channels import slack
from tallybook.notifications.channels.errors import (
    ConfigurationProblem,
    DeliveryError,
    TransientProblem,
)
from tests.fixtures.slack_server import Reply, SlackServer
from tests.fixtures.smtp_server import free_port
from tests.notifications.factories import alert, snapshot

TOKEN = "xoxb-123456789012-abcdefghijklmnop-WXYZ"
HOOK = "T0001-B0001-secretpart9876"


@pytest.fixture(scope="module")
def chart() -> bytes:
    png = render.chart_png(snapshot())
    assert png is not None
    return png


def send(server: SlackServer, chart: bytes | None, user: str | None = None) -> None:
    slack.send_with_token(
        TOKEN, "#reports", user, snapshot(), chart, api_url=server.api_url, timeout=5
    )


def assert_clean(problem: DeliveryError) -> None:
    text = str(problem)
    assert TOKEN not in text and "WXYZ" not in text
    assert "secretpart" not in text and "/hooks/" not in text and "://" not in text
    assert "Daily signups" not in text  # no message content either


# --- bot token ---------------------------------------------------------------------------------


def test_posts_one_message_with_the_uploaded_chart(slack_server: SlackServer, chart: bytes) -> None:
    send(slack_server, chart)
    [message] = slack_server.messages
    assert message["via"] == "api" and message["token"] == TOKEN
    assert message["channel"] == "#reports"
    for fact in ("Daily signups", "Sales funnel", "Value: 120", "at least 100", "reached"):
        assert fact in message["text"]
    [file_id] = slack_server.image_file_ids(message)
    upload = slack_server.uploads[file_id]
    assert upload.data == chart and upload.data.startswith(b"\x89PNG\r\n\x1a\n")
    assert upload.completed and not upload.shared  # uploaded privately, posted only once
    assert upload.length == len(chart)
    assert slack_server.calls == [
        "files.getUploadURLExternal",
        "upload",
        "files.completeUploadExternal",
        "chat.postMessage",
    ]


def test_without_a_chart_nothing_is_uploaded(slack_server: SlackServer) -> None:
    send(slack_server, None)
    [message] = slack_server.messages
    assert slack_server.image_file_ids(message) == []
    assert slack_server.calls == ["chat.postMessage"]


def test_user_is_the_name_posted_as(slack_server: SlackServer) -> None:
    send(slack_server, None, user="Reporter")
    send(slack_server, None)
    assert slack_server.messages[0]["username"] == "Reporter"
    assert "username" not in slack_server.messages[1]


def test_rate_limit_is_transient_with_retry_after(slack_server: SlackServer, chart: bytes) -> None:
    slack_server.rate_limit(17, key="chat.postMessage")
    with pytest.raises(TransientProblem) as caught:
        send(slack_server, chart)
    assert caught.value.retry_after == 17
    assert slack_server.messages == []
    assert slack_server.calls.count("chat.postMessage") == 1  # slack-sdk did not retry
    assert_clean(caught.value)


@pytest.mark.parametrize(
    "error",
    ["invalid_auth", "channel_not_found", "not_in_channel", "is_archived", "token_revoked"],
)
def test_configuration_errors(slack_server: SlackServer, error: str) -> None:
    slack_server.api_error(error, key="chat.postMessage")
    with pytest.raises(ConfigurationProblem) as caught:
        send(slack_server, None)
    assert error in str(caught.value)
    assert_clean(caught.value)
    assert slack_server.messages == []


def test_server_error_is_transient(slack_server: SlackServer) -> None:
    slack_server.server_error(key="chat.postMessage")
    with pytest.raises(TransientProblem) as caught:
        send(slack_server, None)
    assert "500" in str(caught.value)
    assert_clean(caught.value)
    assert slack_server.calls.count("chat.postMessage") == 1


def test_unknown_api_error_is_transient(slack_server: SlackServer) -> None:
    slack_server.api_error("fatal_error", key="chat.postMessage")
    with pytest.raises(TransientProblem, match="fatal_error"):
        send(slack_server, None)


def test_unreachable_api_is_transient() -> None:
    api_url = f"http://127.0.0.1:{free_port()}/api/"
    with pytest.raises(TransientProblem, match="Could not reach the Slack API") as caught:
        slack.send_with_token(TOKEN, "#reports", None, snapshot(), None, api_url=api_url)
    assert_clean(caught.value)


def test_connection_lost_after_posting_is_not_retried_by_the_sdk(
    slack_server: SlackServer,
) -> None:
    slack_server.drop(key="chat.postMessage", process_first=True)
    with pytest.raises(TransientProblem):
        send(slack_server, None)
    assert len(slack_server.messages) == 1  # Slack has it; the outbox decides about retrying
    assert slack_server.calls.count("chat.postMessage") == 1


def test_transient_upload_failure_posts_without_the_image(
    slack_server: SlackServer, chart: bytes
) -> None:
    slack_server.server_error(key="upload")
    send(slack_server, chart)
    [message] = slack_server.messages
    assert slack_server.image_file_ids(message) == []
    assert "Value: 120" in message["text"]


@pytest.mark.parametrize("key", ["files.getUploadURLExternal", "files.completeUploadExternal"])
def test_server_error_from_the_upload_api_posts_without_the_image(
    slack_server: SlackServer, chart: bytes, key: str
) -> None:
    slack_server.server_error(key=key, status=503)
    send(slack_server, chart)
    [message] = slack_server.messages
    assert slack_server.image_file_ids(message) == []


@pytest.mark.parametrize(
    "key", ["files.getUploadURLExternal", "upload", "files.completeUploadExternal"]
)
def test_rate_limited_upload_waits_and_posts_nothing(
    slack_server: SlackServer, chart: bytes, key: str
) -> None:
    slack_server.rate_limit(30, key=key)
    with pytest.raises(TransientProblem, match="rate-limited uploading the chart") as caught:
        send(slack_server, chart)
    assert caught.value.retry_after == 30
    assert slack_server.messages == []
    assert "chat.postMessage" not in slack_server.calls
    assert slack_server.calls.count(key) == 1  # slack-sdk did not retry
    assert_clean(caught.value)


def test_upload_configuration_error_is_a_configuration_problem(
    slack_server: SlackServer, chart: bytes
) -> None:
    slack_server.api_error("missing_scope", key="files.getUploadURLExternal")
    with pytest.raises(ConfigurationProblem, match="missing_scope") as caught:
        send(slack_server, chart)
    assert "uploading the chart" in str(caught.value)
    assert slack_server.messages == []


def test_image_not_ready_is_posted_again_with_the_image(
    slack_server: SlackServer, chart: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(slack, "IMAGE_SETTLE_SECONDS", 0.05)
    slack_server.api_error("invalid_blocks", key="chat.postMessage")
    send(slack_server, chart)
    [message] = slack_server.messages
    assert len(slack_server.image_file_ids(message)) == 1
    assert slack_server.calls.count("chat.postMessage") == 2


def test_image_never_accepted_is_dropped_not_the_card(
    slack_server: SlackServer, chart: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(slack, "IMAGE_SETTLE_SECONDS", 0.05)
    slack_server.api_error("invalid_blocks", key="chat.postMessage", times=2)
    send(slack_server, chart)
    [message] = slack_server.messages
    assert slack_server.image_file_ids(message) == []
    assert slack_server.calls.count("chat.postMessage") == 3


def test_api_url_without_trailing_slash(slack_server: SlackServer) -> None:
    api_url = slack_server.api_url.rstrip("/")
    slack.send_with_token(TOKEN, "C0123456789", None, alert(), None, api_url=api_url)
    assert slack_server.messages[0]["channel"] == "C0123456789"


# --- incoming webhooks -------------------------------------------------------------------------


def send_hook(server: SlackServer, icon_url: str | None = None) -> None:
    slack.send_webhook(server.webhook_url(HOOK), icon_url, alert(), allow_private=True, timeout=5)


def test_webhook_posts_text_and_blocks_without_an_image(slack_server: SlackServer) -> None:
    send_hook(slack_server, icon_url="https://example.com/icon.png")
    [message] = slack_server.messages
    assert message["via"] == "webhook" and message["hook"] == HOOK
    for fact in ("Open tickets", "Value: 37", "below 30", "broken", "so far"):
        assert fact in message["text"]
    assert [b["type"] for b in message["blocks"]] == ["header", "section", "context"]
    assert message["icon_url"] == "https://example.com/icon.png"
    send_hook(slack_server)
    assert "icon_url" not in slack_server.messages[1]


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (404, "no_service"),
        (403, "invalid_token"),
        (410, "channel_is_archived"),
        (404, "channel_not_found"),
        (403, "action_prohibited"),
        (400, "invalid_payload"),
        (404, "no_service_id"),
    ],
)
def test_webhook_configuration_errors(slack_server: SlackServer, status: int, error: str) -> None:
    slack_server.webhook_error(status, error)
    with pytest.raises(ConfigurationProblem) as caught:
        send_hook(slack_server)
    assert error in str(caught.value) and str(status) in str(caught.value)
    assert_clean(caught.value)


def test_webhook_rate_limit(slack_server: SlackServer) -> None:
    slack_server.rate_limit(12, key="hooks")
    with pytest.raises(TransientProblem) as caught:
        send_hook(slack_server)
    assert caught.value.retry_after == 12
    assert_clean(caught.value)


def test_webhook_server_error_is_transient(slack_server: SlackServer) -> None:
    slack_server.server_error(key="hooks")
    with pytest.raises(TransientProblem, match="HTTP 500") as caught:
        send_hook(slack_server)
    assert_clean(caught.value)


def test_webhook_unreachable_is_transient() -> None:
    url = f"http://127.0.0.1:{free_port()}/hooks/{HOOK}"
    with pytest.raises(TransientProblem) as caught:
        slack.send_webhook(url, None, alert(), allow_private=True)
    assert_clean(caught.value)


def test_webhook_timeout_is_transient(slack_server: SlackServer) -> None:
    hold = slack_server.hold(key="hooks")
    started = time.monotonic()
    with pytest.raises(TransientProblem, match="in time") as caught:
        slack.send_webhook(
            slack_server.webhook_url(HOOK), None, alert(), allow_private=True, timeout=0.3
        )
    assert time.monotonic() - started < 3
    assert_clean(caught.value)
    hold.release()


def test_webhook_redirect_is_not_followed(slack_server: SlackServer) -> None:
    elsewhere = slack_server.webhook_url("elsewhere")
    slack_server.script(Reply(302, "", {"Location": elsewhere}), key="hooks")
    with pytest.raises(ConfigurationProblem, match="redirect") as caught:
        send_hook(slack_server)
    assert slack_server.calls == [f"hooks/{HOOK}"]
    assert slack_server.messages == []
    assert_clean(caught.value)


def test_webhook_to_loopback_refused_when_private_addresses_are_not_allowed(
    slack_server: SlackServer,
) -> None:
    with pytest.raises(ConfigurationProblem) as caught:
        slack.send_webhook(slack_server.webhook_url(HOOK), None, alert(), allow_private=False)
    assert slack_server.calls == []
    assert_clean(caught.value)


def test_held_request_can_be_released(slack_server: SlackServer) -> None:
    """The fixture's hold: the request waits (a test may kill the sender meanwhile)."""
    hold = slack_server.hold(key="hooks")
    sender = threading.Thread(target=send_hook, args=(slack_server,))
    sender.start()
    assert hold.arrived.wait(5)
    assert slack_server.messages == []
    hold.release()
    sender.join(5)
    assert not sender.is_alive()
    assert len(slack_server.messages) == 1


def test_webhook_answer_is_not_read_whole(slack_server: SlackServer) -> None:
    slack_server.script(Reply(404, "no_service " + "x" * 5_000_000), key="hooks")
    with pytest.raises(ConfigurationProblem) as caught:
        send_hook(slack_server)
    assert len(str(caught.value)) < 200
    assert_clean(caught.value)


# --- finding an earlier attempt's post -------------------------------------------------------


def _send_keyed(server: SlackServer, tried_since: datetime | None) -> bool:
    return slack.send_with_token(
        TOKEN,
        "C0REPORTS",
        None,
        snapshot(),
        None,
        api_url=server.api_url,
        timeout=5,
        card_key="n-1@tallybook",
        tried_since=tried_since,
    )


def test_a_post_carries_the_card_key_in_its_metadata(slack_server: SlackServer) -> None:
    assert _send_keyed(slack_server, None) is True
    [message] = slack_server.messages
    assert message["metadata"] == {
        "event_type": "tallybook_card",
        "event_payload": {"card": "n-1@tallybook"},
    }


def test_a_card_an_interrupted_attempt_posted_is_not_posted_again(
    slack_server: SlackServer,
) -> None:
    started = datetime.now(UTC)
    assert _send_keyed(slack_server, None) is True
    assert _send_keyed(slack_server, started) is False
    assert len(slack_server.messages) == 1
    assert slack_server.calls[-1] == "conversations.history"


def test_the_search_reads_past_the_first_page_of_history(slack_server: SlackServer) -> None:
    started = datetime.now(UTC)
    assert _send_keyed(slack_server, None) is True
    slack_server.add_messages("C0REPORTS", 450)  # the card is now on the third page
    assert _send_keyed(slack_server, started) is False
    assert slack_server.calls[-3:] == ["conversations.history"] * 3
    assert len(slack_server.messages) == 451


def test_a_card_not_found_in_the_history_is_posted(slack_server: SlackServer) -> None:
    assert _send_keyed(slack_server, datetime.now(UTC)) is True
    assert slack_server.calls == ["conversations.history", "chat.postMessage"]


def test_without_history_access_the_card_is_posted_again(slack_server: SlackServer) -> None:
    started = datetime.now(UTC)
    _send_keyed(slack_server, None)
    slack_server.api_error("missing_scope", key="conversations.history")
    assert _send_keyed(slack_server, started) is True  # at least once, never lost
    assert len(slack_server.messages) == 2
