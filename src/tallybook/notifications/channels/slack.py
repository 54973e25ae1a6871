"""Slack delivery: an incoming webhook (text only) or a bot token (with the chart).

Token mode uploads the chart with Slack's external upload flow (``files.getUploadURLExternal``,
the bytes to the returned URL, ``files.completeUploadExternal`` without a channel, so nothing
is posted yet) and then posts exactly one message with ``chat.postMessage`` whose image block
references the uploaded file.

Decisions:
- A 429 (or ``ratelimited``) at any step of the upload fails the attempt like a 429 on the
  post: nothing has been posted yet, and the outbox retries the whole card, chart included,
  after ``Retry-After`` (DESIGN §6; after its backoff if Slack names no wait). Any other
  transient failure of the upload (network, 5xx) posts the card without the image: the
  chart must not cost the card. A configuration error while uploading (``invalid_auth``,
  ``missing_scope`` for ``files:write``, ...) is a configuration problem like any other: the
  token cannot do what a token setting is for (DESIGN §6 carries the chart).
- Slack can answer ``invalid_blocks`` for an image block whose file it has not finished
  processing. Nothing was posted then, so the post is repeated once after a short pause, and
  then once more without the image.
- ``user`` is the name the message is sent as (seed: "Slack user to send the notification
  as"), passed as ``username``; Slack applies it when the app has ``chat:write.customize``.
- Each post carries message metadata naming the card (``tallybook_card``). When an earlier
  attempt may have posted it (the worker died mid-call, or the answer timed out), the
  channel's history is searched for that name before posting again; where the token may
  not read history, the card is posted again (at least once rather than lost).
- slack-sdk's own retry handlers are off: retrying a post whose connection broke after Slack
  accepted it would post twice. The outbox retries, with its backoff.
- Error messages carry only Slack's error code (``[a-z_]`` words), never the token, the
  webhook URL, the upload URL or the message.
"""

from __future__ import annotations

import http.client
import logging
import math
import re
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import lru_cache
from types import MappingProxyType
from typing import Any

import httpx
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web import SlackResponse
from sqlalchemy.orm import Session

from tallybook.notifications.cards import render
from tallybook.notifications.cards.data import Card
from tallybook.notifications.channels import slack_modes
from tallybook.notifications.channels.base import DeliveryContext, Outgoing, one_message_per_card
from tallybook.notifications.channels.errors import (
    ConfigurationProblem,
    DeliveryError,
    TransientProblem,
    unexpected,
)
from tallybook.notifications.channels.outbound import (
    MALFORMED_URL,
    URL_ERRORS,
    guarded_client,
    malformed_url,
    request_url,
)
from tallybook.notifications.models import Notification, NotificationSetting

log = logging.getLogger("tallybook.delivery.slack")

CONFIGURATION_ERRORS = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "invalid_token",
        "not_allowed_token_type",
        "team_access_not_granted",
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "channel_is_archived",
        "missing_scope",
        "no_permission",
        "restricted_action",
        "action_prohibited",
        "no_service",
        "no_service_id",
        "no_team",
        "team_disabled",
        "user_not_found",
        "posting_to_general_channel_denied",
        "invalid_payload",
    }
)
_ERROR_CODE = re.compile(r"[a-z][a-z0-9_]{0,63}")
IMAGE_SETTLE_SECONDS = 1.0  # pause before re-posting an image block Slack was not ready for
CARD_EVENT_TYPE = "tallybook_card"  # message metadata naming the card, to find it again
HISTORY_PAGES = 10  # of 200 messages: how far back a search for an earlier post reads


class RateLimited(TransientProblem):
    """Slack answered 429 or ``ratelimited``: wait for ``retry_after``, never work around it."""


class SlackChannel:
    """Token mode (Web API, with the chart) or webhook mode (text only); see ``slack_modes``."""

    label = "Slack"
    setting_fields = slack_modes.SLACK_FIELDS
    address_fields = slack_modes.SLACK_FIELDS
    # The API's ``channel`` (where a token posts) would read as the channel type on the row.
    stored_as: Mapping[str, str] = MappingProxyType({"channel": "slack_channel"})
    delivers_in_transaction = False

    def check_setting(
        self,
        session: Session,
        organization_id: uuid.UUID,
        values: dict[str, Any],
        current: NotificationSetting | None,
        *,
        allow_private: bool,
    ) -> dict[str, Any]:
        if current is None:
            return slack_modes.fields_for_create(values, allow_private=allow_private)
        return slack_modes.fields_for_update(current, values, allow_private=allow_private)

    def bundle_key(self, setting: NotificationSetting) -> str | None:
        return None

    def prepare(
        self, rows: list[Notification], settings: Mapping[uuid.UUID, NotificationSetting]
    ) -> list[list[Notification]]:
        return one_message_per_card(rows)

    def deliver(self, outgoing: Outgoing, context: DeliveryContext) -> None:
        setting = outgoing.setting
        timeout = context.settings.delivery_timeout
        card = outgoing.cards[0]
        if setting.incoming_webhook_url:
            send_webhook(
                setting.incoming_webhook_url,
                setting.icon_url,
                card,
                allow_private=context.settings.outbound_allow_private,
                timeout=timeout,
            )
            return
        send_with_token(
            setting.token or "",
            setting.slack_channel or "",
            setting.user,
            card,
            render.chart_for(card),
            api_url=context.settings.slack_api_url,
            timeout=timeout,
            card_key=outgoing.message_id,
            tried_since=outgoing.tried_since,
        )

    def classify(self, error: Exception) -> DeliveryError:
        return malformed_url(error) or unexpected(error)


# --- incoming webhooks ---------------------------------------------------------------------


def webhook_payload(card: Card, icon_url: str | None) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "text": render.slack_text(card),
        "blocks": render.slack_blocks(card, None),
    }
    if icon_url:
        payload["icon_url"] = icon_url
    return payload


def send_webhook(
    url: str, icon_url: str | None, card: Card, *, allow_private: bool, timeout: float = 30.0
) -> None:
    payload = webhook_payload(card, icon_url)
    target = request_url(url)
    try:
        client = _webhook_client(allow_private, timeout)
        with client.stream("POST", target, json=payload) as response:
            body = _read_at_most(response, 1024)
    except URL_ERRORS:
        raise ConfigurationProblem(MALFORMED_URL) from None
    except httpx.TimeoutException:
        raise TransientProblem("The Slack webhook did not answer in time.") from None
    except httpx.HTTPError as exc:
        raise TransientProblem(f"Could not reach the Slack webhook ({_reason(exc)}).") from None
    _check_webhook_answer(response, body)


def _read_at_most(response: httpx.Response, limit: int) -> str:
    """Slack answers a word; whatever else is at the URL need not be read whole."""
    data = b""
    for chunk in response.iter_bytes():
        data += chunk
        if len(data) >= limit:
            break
    return data[:limit].decode("utf-8", "replace")


@lru_cache(maxsize=4)
def _webhook_client(allow_private: bool, timeout: float) -> httpx.Client:
    """One client per process, shared by the delivery threads: its pool keeps connections to
    Slack's webhook host open between cards (each one is vetted when it is opened)."""
    return guarded_client(allow_private, timeout=timeout)


def _check_webhook_answer(response: httpx.Response, body: str) -> None:
    status = response.status_code
    code = _error_code(body.strip())
    said = f": {code}" if code else ""
    if 200 <= status < 300:
        if code in CONFIGURATION_ERRORS:
            raise ConfigurationProblem(f"Slack refused the webhook{said}.")
        return
    if status == 429:
        raise TransientProblem(
            "Slack rate-limited the webhook.", retry_after=_retry_after(response.headers)
        )
    if 300 <= status < 400:
        raise ConfigurationProblem(
            f"The webhook answered with a redirect (HTTP {status}); redirects are not followed."
        )
    if status >= 500 or status in (408, 425):
        raise TransientProblem(f"The Slack webhook failed (HTTP {status}){said}.")
    if 400 <= status < 500:
        raise ConfigurationProblem(f"Slack refused the webhook (HTTP {status}){said}.")
    raise TransientProblem(f"The Slack webhook answered HTTP {status}{said}.")


# --- bot token -----------------------------------------------------------------------------


def send_with_token(
    token: str,
    slack_channel: str,
    user: str | None,
    card: Card,
    chart: bytes | None,
    *,
    api_url: str,
    timeout: float = 30.0,
    card_key: str | None = None,
    tried_since: datetime | None = None,
) -> bool:
    """Post the card to ``slack_channel`` (a Slack channel's id or name); False when an
    earlier attempt's post is found and nothing is posted.

    ``card_key`` goes into the message's metadata. ``tried_since`` is when the first
    attempt of this card began, if an earlier attempt may have posted it (the worker died,
    or the answer timed out): the channel's history since then is searched for the key
    first, so a card is not posted twice.
    """
    client = WebClient(
        token=token,
        base_url=api_url if api_url.endswith("/") else api_url + "/",
        timeout=max(1, round(timeout)),
        retry_handlers=[],
    )
    if card_key and tried_since and _already_posted(client, slack_channel, card_key, tried_since):
        return False
    file_id = _upload_chart(client, card, chart, timeout) if chart else None
    _post(client, slack_channel, user, card, file_id, card_key)
    return True


def _already_posted(client: WebClient, channel: str, card_key: str, since: datetime) -> bool:
    """Whether the channel holds a message with this card's key, posted since ``since``.

    Needs ``channels:history`` (``groups:history`` for private channels) and a channel id.
    Without them the search is refused and the card is posted again: at least once. The
    search reads at most ``HISTORY_PAGES`` pages of 200 messages, newest first.
    """
    cursor = None
    for _ in range(HISTORY_PAGES):
        page = _history_page(client, channel, since, cursor)
        if page is None:
            return False
        for message in page.get("messages") or []:
            metadata = message.get("metadata") or {}
            payload = metadata.get("event_payload") or {}
            if metadata.get("event_type") == CARD_EVENT_TYPE and payload.get("card") == card_key:
                return True
        cursor = (page.get("response_metadata") or {}).get("next_cursor")
        if not page.get("has_more") or not cursor:
            return False
    log.warning("the channel's history is too long to search; posting the card again")
    return False


def _history_page(
    client: WebClient, channel: str, since: datetime, cursor: str | None
) -> SlackResponse | None:
    """One page of the channel's messages since ``since`` (a minute of clock skew
    allowed); None when the history cannot be read."""
    try:
        return client.conversations_history(
            channel=channel,
            oldest=f"{since.timestamp() - 60:.6f}",
            include_all_metadata=True,
            limit=200,
            cursor=cursor,
        )
    except SlackApiError as exc:
        problem = _problem(exc, "searching the channel's history")
        if isinstance(problem, TransientProblem) and problem.retry_after is not None:
            raise problem from None
        log.warning("cannot search the channel for an earlier post", extra={"reason": str(problem)})
        return None
    except (SlackClientError, OSError, http.client.HTTPException) as exc:
        raise _unreachable(exc) from None


def _upload_chart(client: WebClient, card: Card, chart: bytes, timeout: float) -> str | None:
    """The uploaded chart's file id; None when a transient failure other than a rate limit
    made us give up on it."""
    try:
        ticket = _call(
            "uploading the chart",
            lambda: client.files_getUploadURLExternal(
                filename="chart.png", length=len(chart), alt_txt=f"Chart of {card.target}"
            ),
        )
        file_id = str(ticket["file_id"])
        _upload_bytes(str(ticket["upload_url"]), chart, timeout)
        _call(
            "uploading the chart",
            lambda: client.files_completeUploadExternal(
                files=[{"id": file_id, "title": f"{card.target} — recent periods"}]
            ),
        )
    except RateLimited:
        raise
    except TransientProblem as problem:
        log.warning("chart upload failed; posting without it", extra={"reason": str(problem)})
        return None
    return file_id


@lru_cache(maxsize=1)
def _upload_client() -> httpx.Client:
    """Shared by the delivery threads: a client per upload spent ~19 ms loading the trust
    store. No proxies from the environment, no redirects."""
    return httpx.Client(trust_env=False, follow_redirects=False)


def _upload_bytes(upload_url: str, chart: bytes, timeout: float) -> None:
    """The upload URL comes from the Slack API the operator configured, so it is trusted."""
    try:
        response = _upload_client().post(
            upload_url,
            content=chart,
            headers={"Content-Type": "image/png"},
            timeout=timeout,
        )
    except httpx.HTTPError as exc:
        raise TransientProblem(f"Could not upload the chart ({_reason(exc)}).") from None
    if response.status_code == 429:
        raise RateLimited(
            "Slack rate-limited uploading the chart.", retry_after=_retry_after(response.headers)
        )
    if not response.is_success:
        raise TransientProblem(f"Slack refused the chart's bytes (HTTP {response.status_code}).")


def _post(
    client: WebClient,
    channel: str,
    user: str | None,
    card: Card,
    file_id: str | None,
    card_key: str | None,
) -> None:
    text = render.slack_text(card)
    metadata = (
        {"event_type": CARD_EVENT_TYPE, "event_payload": {"card": card_key}} if card_key else None
    )
    attempts = [file_id, file_id, None] if file_id else [None]
    for number, image in enumerate(attempts):
        try:
            client.chat_postMessage(
                channel=channel,
                text=text,
                blocks=render.slack_blocks(card, image),
                username=user or None,
                metadata=metadata,
            )
            return
        except SlackApiError as exc:
            if image is None or _api_error(exc) != "invalid_blocks":
                raise _problem(exc, "posting the message") from None
            if attempts[number + 1] is not None:
                time.sleep(IMAGE_SETTLE_SECONDS)
        except (SlackClientError, OSError, http.client.HTTPException) as exc:
            raise _unreachable(exc) from None


def _call(doing: str, call: Callable[[], SlackResponse]) -> SlackResponse:
    try:
        return call()
    except SlackApiError as exc:
        raise _problem(exc, doing) from None
    except (SlackClientError, OSError, http.client.HTTPException) as exc:
        raise _unreachable(exc) from None


def _api_error(exc: SlackApiError) -> str | None:
    data = exc.response.data if exc.response is not None else None
    return _error_code(data.get("error")) if isinstance(data, dict) else None


def _problem(exc: SlackApiError, doing: str) -> DeliveryError:
    status = int(exc.response.status_code) if exc.response is not None else 0
    code = _api_error(exc)
    said = f": {code}" if code else f" (HTTP {status})"
    if status == 429 or code == "ratelimited":
        headers = exc.response.headers if exc.response is not None else {}
        return RateLimited(f"Slack rate-limited {doing}.", retry_after=_retry_after(headers or {}))
    if code in CONFIGURATION_ERRORS:
        return ConfigurationProblem(f"Slack refused {doing}{said}.")
    if status >= 500:
        return TransientProblem(f"Slack failed while {doing} (HTTP {status}).")
    return TransientProblem(f"Slack refused {doing}{said}.")


def _unreachable(exc: BaseException) -> TransientProblem:
    return TransientProblem(f"Could not reach the Slack API ({_reason(exc)}).")


# --- shared --------------------------------------------------------------------------------


def _error_code(value: object) -> str | None:
    """Slack's error word, or None for anything else (an HTML page, a sentence)."""
    return value if isinstance(value, str) and _ERROR_CODE.fullmatch(value) else None


def _reason(exc: BaseException) -> str:
    """The kind of a network failure, without its text (which may name the URL)."""
    reason = getattr(exc, "reason", None)
    if isinstance(reason, BaseException):
        exc = reason
    return type(exc).__name__


def _retry_after(headers: Mapping[str, Any]) -> float | None:
    value = next((v for k, v in headers.items() if str(k).lower() == "retry-after"), None)
    if isinstance(value, list):
        value = value[0] if value else None
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:  # a number of seconds; one that is not finite says nothing usable
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        moment = parsedate_to_datetime(str(value))
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())
