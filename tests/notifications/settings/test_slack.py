"""Slack settings: the two modes, switching between them, masked secrets, outbound URLs."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tallybook.kit.db import Database
from tallybook.notifications.models import NotificationSetting
from tests.notifications.factories import TargetPath, assert_invalid, create

TOKEN = "xoxb-123456789012-abcdefghijklmnop-WXYZ"
HOOK = "https://hooks.slack.com/services/T000/B000/secretpart9876"
ICON = "https://example.com/icon.png"
READ_ONLY = ("id", "organization_id", "last_notification_sent", "last_error")


def stored(database: Database, setting_id: str) -> NotificationSetting:
    with database.unit_of_work() as session:
        stmt = select(NotificationSetting).where(NotificationSetting.id == uuid.UUID(setting_id))
        return session.scalars(stmt).one()


def token_setting(client: TestClient, target: TargetPath, **extra: Any) -> Any:
    body = {"target": target.target_id, "token": TOKEN, "channel": "#reports", **extra}
    return create(client, target, "slack", body)


def hook_setting(client: TestClient, target: TargetPath, **extra: Any) -> Any:
    return create(client, target, "slack", {"incoming_webhook_url": HOOK, **extra})


def editable(setting: dict[str, Any]) -> dict[str, Any]:
    """What a client that GETs and PATCHes back the whole object sends (less read-only)."""
    return {key: value for key, value in setting.items() if key not in READ_ONLY}


def test_token_mode(client: TestClient, database: Database, target: TargetPath) -> None:
    setting = token_setting(client, target, user="Reporter", name="Slack")
    assert setting["token"] == "****WXYZ"
    assert setting["channel"] == "#reports"
    assert setting["user"] == "Reporter"
    assert setting["icon_url"] is None
    assert setting["incoming_webhook_url"] is None
    assert stored(database, setting["id"]).token == TOKEN
    without_user = token_setting(client, target)
    assert without_user["user"] is None


def test_webhook_mode(client: TestClient, database: Database, target: TargetPath) -> None:
    setting = hook_setting(client, target, icon_url=ICON)
    assert setting["incoming_webhook_url"] == "****9876"
    assert setting["icon_url"] == ICON
    assert (setting["token"], setting["channel"], setting["user"]) == (None, None, None)
    assert stored(database, setting["id"]).incoming_webhook_url == HOOK
    assert hook_setting(client, target)["icon_url"] is None


def test_nulls_of_the_other_mode_are_not_fields_sent(
    client: TestClient, target: TargetPath
) -> None:
    setting = token_setting(client, target, incoming_webhook_url=None, icon_url=None, user=None)
    assert setting["token"] == "****WXYZ"
    hook = hook_setting(client, target, token=None, channel=None)
    assert hook["incoming_webhook_url"] == "****9876"


def test_secrets_are_never_echoed(client: TestClient, target: TargetPath) -> None:
    token_setting(client, target)
    hook_setting(client, target)
    for url in (target.kind("slack"), target.notifications):
        text = client.get(url, headers=target.headers).text
        assert TOKEN not in text
        assert HOOK not in text
        assert "secretpart" not in text
    too_long = client.post(
        target.kind("slack"),
        json={"token": TOKEN + "x" * 2000, "channel": "c"},
        headers=target.headers,
    )
    assert_invalid(too_long, ["body", "token"])
    assert TOKEN not in too_long.text
    bad_hook = HOOK.replace("https", "ftp")
    refused = client.post(
        target.kind("slack"), json={"incoming_webhook_url": bad_hook}, headers=target.headers
    )
    assert_invalid(refused, ["body", "incoming_webhook_url"])
    assert "secretpart" not in refused.text


@pytest.mark.parametrize("secret", ["short", "elevenchars"])
def test_short_secrets_are_fully_masked(
    client: TestClient, target: TargetPath, secret: str
) -> None:
    setting = token_setting(client, target, token=secret)
    assert setting["token"] == "****"
    twelve = token_setting(client, target, token="twelve-chars")
    assert twelve["token"] == "****hars"


@pytest.mark.parametrize(
    "body",
    [
        {"token": TOKEN, "channel": "#c", "incoming_webhook_url": HOOK},
        {"token": TOKEN, "channel": "#c", "icon_url": ICON},
        {"user": "u", "incoming_webhook_url": HOOK},
    ],
)
def test_mixing_modes_is_refused(
    client: TestClient, target: TargetPath, body: dict[str, Any]
) -> None:
    response = client.post(target.kind("slack"), json=body, headers=target.headers)
    result = assert_invalid(response, ["body"])
    assert "either token mode" in result["detail"]
    assert "mixes" in result["detail"]
    assert client.get(target.kind("slack"), headers=target.headers).json() == []


@pytest.mark.parametrize("body", [{}, {"name": "x"}, {"token": None, "incoming_webhook_url": None}])
def test_neither_mode_is_refused(
    client: TestClient, target: TargetPath, body: dict[str, Any]
) -> None:
    response = client.post(target.kind("slack"), json=body, headers=target.headers)
    result = assert_invalid(response, ["body"])
    assert "has neither" in result["detail"]


@pytest.mark.parametrize(
    ("body", "missing"),
    [
        ({"token": TOKEN}, ["channel"]),
        ({"channel": "#c"}, ["token"]),
        ({"user": "u"}, ["token", "channel"]),
        ({"icon_url": ICON}, ["incoming_webhook_url"]),
    ],
)
def test_a_mode_needs_its_required_fields(
    client: TestClient, target: TargetPath, body: dict[str, Any], missing: list[str]
) -> None:
    response = client.post(target.kind("slack"), json=body, headers=target.headers)
    result = assert_invalid(response, ["body", missing[0]])
    assert [error["loc"][1] for error in result["errors"]] == missing
    assert "mode needs" in result["detail"]


@pytest.mark.parametrize("field", ["token", "channel", "user"])
@pytest.mark.parametrize("value", ["", "   ", 42, ["x"]])
def test_token_mode_texts_must_be_non_empty_strings(
    client: TestClient, target: TargetPath, field: str, value: Any
) -> None:
    body = {"token": TOKEN, "channel": "#c", field: value}
    response = client.post(target.kind("slack"), json=body, headers=target.headers)
    assert_invalid(response, ["body", field])


@pytest.mark.parametrize(("field", "limit"), [("channel", 255), ("user", 255), ("token", 1024)])
def test_token_mode_text_lengths(
    client: TestClient, target: TargetPath, field: str, limit: int
) -> None:
    body = {"token": TOKEN, "channel": "#c", field: "x" * limit}
    assert client.post(target.kind("slack"), json=body, headers=target.headers).status_code == 201
    body[field] = "x" * (limit + 1)
    response = client.post(target.kind("slack"), json=body, headers=target.headers)
    assert_invalid(response, ["body", field])


def test_patch_token_mode_fields_one_by_one(
    client: TestClient, database: Database, target: TargetPath
) -> None:
    setting = token_setting(client, target, user="bot")
    url = target.kind("slack", setting["id"])
    response = client.patch(url, json={"channel": "#other"}, headers=target.headers)
    assert response.status_code == 200
    current = {**setting, "channel": "#other"}
    assert response.json() == current
    response = client.patch(url, json={"user": None}, headers=target.headers)
    current["user"] = None
    assert response.json() == current
    new_token = "xoxb-999999999999-zzzzzzzzzzzzzzzz-NEW1"
    response = client.patch(url, json={"token": new_token}, headers=target.headers)
    current["token"] = "****NEW1"
    assert response.json() == current
    assert stored(database, setting["id"]).token == new_token
    for field in ("token", "channel"):
        response = client.patch(url, json={field: None, "name": "x"}, headers=target.headers)
        result = assert_invalid(response, ["body", field])
        assert "cannot be null" in result["errors"][0]["msg"]
    # Nulls for the other mode's fields change nothing.
    response = client.patch(
        url, json={"incoming_webhook_url": None, "icon_url": None}, headers=target.headers
    )
    assert response.json() == current
    assert client.get(url, headers=target.headers).json() == current


def test_patch_webhook_mode_fields_one_by_one(
    client: TestClient, database: Database, target: TargetPath
) -> None:
    setting = hook_setting(client, target, icon_url=ICON)
    url = target.kind("slack", setting["id"])
    response = client.patch(url, json={"icon_url": None}, headers=target.headers)
    assert response.json() == {**setting, "icon_url": None}
    new_hook = "https://hooks.slack.com/services/T1/B1/another4321"
    response = client.patch(url, json={"incoming_webhook_url": new_hook}, headers=target.headers)
    assert response.json() == {**setting, "icon_url": None, "incoming_webhook_url": "****4321"}
    assert stored(database, setting["id"]).incoming_webhook_url == new_hook
    response = client.patch(url, json={"incoming_webhook_url": None}, headers=target.headers)
    assert_invalid(response, ["body", "incoming_webhook_url"])
    response = client.patch(url, json={"token": None, "user": None}, headers=target.headers)
    assert response.status_code == 200
    assert response.json()["incoming_webhook_url"] == "****4321"


def test_masked_round_trip_keeps_the_secrets(
    client: TestClient, database: Database, target: TargetPath
) -> None:
    for setting, secret in (
        (token_setting(client, target, user="bot"), "token"),
        (hook_setting(client, target, icon_url=ICON), "incoming_webhook_url"),
    ):
        url = target.kind("slack", setting["id"])
        before = getattr(stored(database, setting["id"]), secret)
        fetched = client.get(url, headers=target.headers).json()
        body = {**editable(fetched), "name": "Edited"}
        response = client.patch(url, json=body, headers=target.headers)
        assert response.status_code == 200, response.text
        assert response.json() == {**fetched, "name": "Edited"}
        assert getattr(stored(database, setting["id"]), secret) == before
        response = client.patch(url, json={secret: fetched[secret]}, headers=target.headers)
        assert response.status_code == 200
        assert getattr(stored(database, setting["id"]), secret) == before


def test_a_masked_value_that_is_not_the_stored_one_is_refused(
    client: TestClient, database: Database, target: TargetPath
) -> None:
    setting = token_setting(client, target)
    url = target.kind("slack", setting["id"])
    for value in ("****ABCD", "****", "****WXYZ-more"):
        response = client.patch(url, json={"token": value}, headers=target.headers)
        result = assert_invalid(response, ["body", "token"])
        assert "masked" in result["detail"]
    assert stored(database, setting["id"]).token == TOKEN
    response = client.post(
        target.kind("slack"), json={"token": "****WXYZ", "channel": "#c"}, headers=target.headers
    )
    assert_invalid(response, ["body", "token"])
    response = client.post(
        target.kind("slack"), json={"incoming_webhook_url": "****9876"}, headers=target.headers
    )
    assert_invalid(response, ["body", "incoming_webhook_url"])


def test_switch_from_token_to_webhook_mode(
    client: TestClient, database: Database, target: TargetPath
) -> None:
    setting = token_setting(client, target, user="bot", name="Switcher")
    url = target.kind("slack", setting["id"])
    response = client.patch(
        url, json={"incoming_webhook_url": HOOK, "icon_url": ICON}, headers=target.headers
    )
    assert response.status_code == 200, response.text
    assert response.json() == {
        **setting,
        "token": None,
        "channel": None,
        "user": None,
        "incoming_webhook_url": "****9876",
        "icon_url": ICON,
    }
    row = stored(database, setting["id"])
    assert (row.token, row.slack_channel, row.user, row.incoming_webhook_url) == (
        None,
        None,
        None,
        HOOK,
    )


def test_switch_from_webhook_to_token_mode(
    client: TestClient, database: Database, target: TargetPath
) -> None:
    setting = hook_setting(client, target, icon_url=ICON)
    url = target.kind("slack", setting["id"])
    # Explicit nulls for the old mode are fine while switching.
    body = {"token": TOKEN, "channel": "#c", "incoming_webhook_url": None, "icon_url": None}
    response = client.patch(url, json=body, headers=target.headers)
    assert response.status_code == 200, response.text
    assert response.json() == {
        **setting,
        "token": "****WXYZ",
        "channel": "#c",
        "user": None,
        "incoming_webhook_url": None,
        "icon_url": None,
    }
    row = stored(database, setting["id"])
    assert (row.incoming_webhook_url, row.icon_url, row.token) == (None, None, TOKEN)


@pytest.mark.parametrize(
    ("start", "body", "missing"),
    [
        ("hook", {"token": TOKEN}, "channel"),
        ("hook", {"channel": "#c"}, "token"),
        ("hook", {"user": "bot"}, "token"),
        ("token", {"icon_url": ICON}, "incoming_webhook_url"),
    ],
)
def test_a_partial_switch_is_refused(
    client: TestClient,
    target: TargetPath,
    start: str,
    body: dict[str, Any],
    missing: str,
) -> None:
    setting = hook_setting(client, target) if start == "hook" else token_setting(client, target)
    url = target.kind("slack", setting["id"])
    response = client.patch(url, json=body, headers=target.headers)
    result = assert_invalid(response, ["body", missing])
    assert "To switch this Slack setting" in result["detail"]
    assert client.get(url, headers=target.headers).json() == setting


@pytest.mark.parametrize(
    ("start", "body"),
    [
        ("token", {"incoming_webhook_url": HOOK, "channel": "#new"}),
        ("token", {"incoming_webhook_url": HOOK, "token": TOKEN + "2"}),
        ("hook", {"token": TOKEN, "channel": "#c", "icon_url": ICON}),
        ("hook", {"token": TOKEN, "channel": "#c", "incoming_webhook_url": HOOK + "x"}),
    ],
)
def test_both_modes_in_one_patch_is_refused(
    client: TestClient, target: TargetPath, start: str, body: dict[str, Any]
) -> None:
    setting = hook_setting(client, target) if start == "hook" else token_setting(client, target)
    url = target.kind("slack", setting["id"])
    response = client.patch(url, json=body, headers=target.headers)
    result = assert_invalid(response, ["body"])
    assert "sends fields of both" in result["detail"]
    assert client.get(url, headers=target.headers).json() == setting


def test_failed_patch_changes_nothing(client: TestClient, target: TargetPath) -> None:
    setting = hook_setting(client, target)
    url = target.kind("slack", setting["id"])
    body = {"name": "new name", "is_notification_active": False, "icon_url": "not a url"}
    assert_invalid(client.patch(url, json=body, headers=target.headers), ["body", "icon_url"])
    assert client.get(url, headers=target.headers).json() == setting


def test_last_error_clears_when_the_delivery_config_changes(
    client: TestClient, database: Database, target: TargetPath
) -> None:
    setting = token_setting(client, target)
    with database.unit_of_work() as session:
        row = session.get(NotificationSetting, uuid.UUID(setting["id"]))
        assert row is not None
        row.last_error = "Slack said: invalid_auth"
        row.consecutive_errors = 2
    url = target.kind("slack", setting["id"])
    renamed = client.patch(url, json={"name": "renamed"}, headers=target.headers).json()
    assert renamed["last_error"] == "Slack said: invalid_auth"
    fixed = client.patch(url, json={"token": TOKEN + "-fixed"}, headers=target.headers).json()
    assert fixed["last_error"] is None
    assert stored(database, setting["id"]).consecutive_errors == 0


PUBLIC_HOOKS = [
    "https://hooks.slack.com/services/T/B/X",
    "https://93.184.216.34/hook",
    "https://[2606:4700::1111]/hook",
    "HTTPS://hooks.slack.com:8443/x?y=1",
]
PRIVATE_HOOKS = [
    "https://localhost/hook",
    "https://LOCALHOST./hook",
    "https://api.localhost/hook",
    "https://127.0.0.1/hook",
    "https://127.1/hook",
    "https://2130706433/hook",
    "https://0x7f.1/hook",
    "https://10.1.2.3/hook",
    "https://172.16.0.1/hook",
    "https://192.168.1.1/hook",
    "https://169.254.169.254/latest/meta-data",
    "https://100.64.0.1/hook",
    "https://0.0.0.0/hook",
    "https://240.0.0.1/hook",
    "https://224.0.0.1/hook",
    "https://[::1]/hook",
    "https://[fe80::1]/hook",
    "https://[fd00::1]/hook",
    "https://[::ffff:127.0.0.1]/hook",
    # hosts that normalise (UTS #46 / IDNA, as browsers and httpx do) to loopback or private
    "https://１２７.０.０.１:8791/fw",
    "https://127。0。0。1/hook",
    "https://１０.１.２.３/hook",
    "https://ｌｏｃａｌｈｏｓｔ/hook",
    "https://LocalHost./hook",
]
MALFORMED = [
    "hooks.slack.com/services/x",
    "/services/x",
    "https://",
    "https:///path",
    "ftp://hooks.slack.com/x",
    "javascript:alert(1)",
    "https://hooks.slack.com/a b",
    "https://hooks.slack.com:99999/x",
    "https://[::1/x",
    "https://hooks.slack.com/" + "x" * 2048,
    # hosts the HTTP client cannot request (the worker would fail on every try)
    "https://ｈｏｏｋｓ.slack.com/x",
    "https://hooks.slack.com:８４４３/x",
    "https://a\u200b.example/x",
]


@pytest.mark.parametrize("url", [*PUBLIC_HOOKS, "https://bücher.example/hook"])
def test_public_https_urls_are_accepted(
    strict_client: TestClient, target: TargetPath, url: str
) -> None:
    for body in ({"incoming_webhook_url": url}, {"incoming_webhook_url": HOOK, "icon_url": url}):
        response = strict_client.post(target.kind("slack"), json=body, headers=target.headers)
        assert response.status_code == 201, response.text


@pytest.mark.parametrize("url", [*PRIVATE_HOOKS, "http://hooks.slack.com/x", *MALFORMED])
@pytest.mark.parametrize("field", ["incoming_webhook_url", "icon_url"])
def test_private_plain_or_malformed_urls_are_refused(
    strict_client: TestClient, target: TargetPath, url: str, field: str
) -> None:
    body = {"incoming_webhook_url": HOOK, field: url}
    response = strict_client.post(target.kind("slack"), json=body, headers=target.headers)
    result = assert_invalid(response, ["body", field])
    assert url not in response.text
    assert "secretpart" not in result["detail"]


def test_private_urls_are_refused_on_patch_too(
    strict_client: TestClient, target: TargetPath
) -> None:
    setting = hook_setting(strict_client, target)
    url = target.kind("slack", setting["id"])
    for field in ("incoming_webhook_url", "icon_url"):
        response = strict_client.patch(
            url, json={field: "https://127.0.0.1/x"}, headers=target.headers
        )
        assert_invalid(response, ["body", field])
    token = token_setting(strict_client, target)
    response = strict_client.patch(
        target.kind("slack", token["id"]),
        json={"incoming_webhook_url": "http://hooks.slack.com/x"},
        headers=target.headers,
    )
    assert_invalid(response, ["body", "incoming_webhook_url"])
    assert strict_client.get(url, headers=target.headers).json() == setting


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:9/hook", "http://localhost:8080/x", "https://[::1]/x"]
)
def test_private_and_plain_http_urls_are_allowed_when_configured(
    client: TestClient, target: TargetPath, url: str
) -> None:
    setting = hook_setting(client, target, icon_url=url)
    assert setting["icon_url"] == url
    response = client.patch(
        target.kind("slack", setting["id"]),
        json={"incoming_webhook_url": url},
        headers=target.headers,
    )
    assert response.status_code == 200
    for bad in (
        "ftp://127.0.0.1/x",
        "127.0.0.1/hook",
        "http://",
        "https://１２７.０.０.１:8791/fw",
    ):
        response = client.post(
            target.kind("slack"), json={"incoming_webhook_url": bad}, headers=target.headers
        )
        assert_invalid(response, ["body", "incoming_webhook_url"])


def test_names_are_not_resolved(strict_client: TestClient, target: TargetPath) -> None:
    # A name that would resolve to a private address is judged at delivery, not here.
    response = strict_client.post(
        target.kind("slack"),
        json={"incoming_webhook_url": "https://does-not-exist.invalid/hook"},
        headers=target.headers,
    )
    assert response.status_code == 201
