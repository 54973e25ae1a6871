"""Delivering a batch of claimed notifications: a three-step flow.

1. In one transaction: reload the claimed rows and their settings, cancel what was
   switched off, write BAR cards, and copy out what the remote channels need.
2. Outside any transaction, on the worker's thread pool: talk to Slack or the SMTP server.
3. In one transaction: record every outcome, for the rows the claim still holds.

BAR cards are chat messages in our own database, so the message and its row's ``sent``
commit together: exactly once. For Slack and e-mail the window for a duplicate is a crash
between the remote server's acceptance and step 3's commit; Slack posts carry the card's
key, which a later attempt looks for before posting again, and e-mail resends keep the
first attempt's Message-ID so mail clients fold them together.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from sqlalchemy.orm import Session

from tallybook.chats.repository import get_chat
from tallybook.chats.service import add_system_message
from tallybook.kit.db import Database
from tallybook.notifications import outbox, render
from tallybook.notifications.cards import Card
from tallybook.notifications.channels import email, slack
from tallybook.notifications.channels.errors import ConfigurationProblem, TransientProblem
from tallybook.notifications.models import Notification, NotificationSetting
from tallybook.settings import Settings

log = logging.getLogger("tallybook.delivery")

SWITCHED_OFF = "Notifications were switched off before delivery."

Clock = Callable[[], datetime]
"""The instant a pass has reached: its ``as_of`` plus the time it has run."""


@dataclass(frozen=True)
class Outgoing:
    """One remote delivery, copied out of the session before talking to the network."""

    owner: str  # the claim's lease token
    notification_ids: tuple[uuid.UUID, ...]
    channel: str
    setting: NotificationSetting  # detached; read only
    cards: tuple[Card, ...]
    message_id: str  # also the card's key in Slack message metadata
    tried_since: datetime | None  # when an earlier attempt that may have got through began


@dataclass(frozen=True)
class Result:
    outgoing: Outgoing
    outcome: str  # sent | rejected | retry | lost
    error: str | None = None
    retry_after: float | None = None


class Deliverer:
    def __init__(self, database: Database, settings: Settings) -> None:
        self.database = database
        self.settings = settings
        self.policy = outbox.RetryPolicy(
            initial=timedelta(seconds=settings.retry_initial),
            maximum=timedelta(seconds=settings.retry_max),
            give_up_after=timedelta(seconds=settings.retry_give_up),
        )

    def deliver(self, claims: list[outbox.Claim], clock: Clock, pool: Executor) -> dict[str, int]:
        """Deliver one claimed batch and record it; outcome counts by name. Retries are
        timed from ``clock()`` at the moment each outcome is written."""
        if not claims:
            return {}
        owner = claims[0].owner
        outcomes: Counter[str] = Counter()
        with self.database.unit_of_work() as session:
            outgoing = self._prepare(session, claims, clock(), outcomes)
        lease = _Lease(self.database, owner, outgoing, self.settings.lease_seconds)
        results = list(pool.map(self._attempt, outgoing, [lease] * len(outgoing)))
        with self.database.unit_of_work() as session:
            self._record(session, owner, results, clock(), outcomes)
        return dict(outcomes)

    def _prepare(
        self,
        session: Session,
        claims: list[outbox.Claim],
        as_of: datetime,
        outcomes: Counter[str],
    ) -> list[Outgoing]:
        owner = claims[0].owner
        rows = outbox.lock_claimed(session, [i for c in claims for i in c.notification_ids], owner)
        settings = outbox.settings_of(session, list(rows.values()))
        notifying = outbox.targets_notifying(session, list(rows.values()))
        uncertain = outbox.uncertain_since(session, list(rows.values()))
        outgoing = []
        for claimed in claims:
            group = [rows[i] for i in claimed.notification_ids if i in rows]
            live = [r for r in group if _is_on(r, settings, notifying)]
            off = [r for r in group if r not in live]
            if off:
                outbox.mark_cancelled(session, off, SWITCHED_OFF)
                outcomes["cancelled"] += len(off)
            if not group:
                outcomes["lost"] += 1
            if not live:
                continue
            if live[0].channel == "bar":
                outcome = _deliver_bar(session, live, settings[live[0].setting_id])
                if outcome == "error":
                    outbox.mark_retry(
                        session,
                        live,
                        [settings[live[0].setting_id]],
                        "The card could not be written to the chat.",
                        as_of=as_of,
                        policy=self.policy,
                        retry_after=None,
                    )
                    outcome = "retry"
                outcomes[outcome] += 1
                continue
            for recipient_rows in _by_recipient(live, settings):
                outgoing.append(
                    _outgoing(
                        owner, recipient_rows, settings[recipient_rows[0].setting_id], uncertain
                    )
                )
        return outgoing

    def _attempt(self, outgoing: Outgoing, lease: _Lease) -> Result:
        if not lease.holds(outgoing.notification_ids):
            return Result(outgoing, "lost")  # another worker took it over: it sends
        try:
            self._send(outgoing)
        except ConfigurationProblem as problem:
            return Result(outgoing, "rejected", str(problem))
        except TransientProblem as problem:
            return Result(outgoing, "retry", str(problem), problem.retry_after)
        except Exception as exc:  # a bug or an unexpected library error: retry, log the type
            log.warning(
                "delivery failed unexpectedly",
                extra={"error_type": type(exc).__name__, "channel": outgoing.channel},
            )
            return Result(outgoing, "retry", f"Unexpected error ({type(exc).__name__}).")
        return Result(outgoing, "sent")

    def _send(self, outgoing: Outgoing) -> None:
        setting = outgoing.setting
        allow_private = self.settings.outbound_allow_private
        timeout = self.settings.delivery_timeout
        if outgoing.channel == "email":
            charts = [chart_for(card) for card in outgoing.cards]
            email.send_email(
                self.settings,
                setting.email or "",
                outgoing.cards,
                charts,
                message_id=outgoing.message_id,
                timeout=timeout,
            )
        elif setting.incoming_webhook_url:
            slack.send_webhook(
                setting.incoming_webhook_url,
                setting.icon_url,
                outgoing.cards[0],
                allow_private=allow_private,
                timeout=timeout,
            )
        else:
            card = outgoing.cards[0]
            slack.send_with_token(
                setting.token or "",
                setting.channel or "",
                setting.user,
                card,
                chart_for(card),
                api_url=self.settings.slack_api_url,
                timeout=timeout,
                card_key=outgoing.message_id,
                tried_since=outgoing.tried_since,
            )

    def _record(
        self,
        session: Session,
        owner: str,
        results: list[Result],
        as_of: datetime,
        outcomes: Counter[str],
    ) -> None:
        ids = [i for result in results for i in result.outgoing.notification_ids]
        rows = outbox.lock_claimed(session, ids, owner)
        settings = outbox.settings_of(session, list(rows.values()))
        sent: list[Notification] = []
        sent_settings: dict[uuid.UUID, NotificationSetting] = {}
        for result in results:
            group = [rows[i] for i in result.outgoing.notification_ids if i in rows]
            if result.outcome == "lost":
                outcomes["lost"] += 1
                continue
            if not group:
                log.warning("delivery finished after its lease expired")
                outcomes["lost"] += 1
                continue
            mine = list({r.setting_id: settings[r.setting_id] for r in group}.values())
            if result.outcome == "sent":  # recorded together below: one statement, not one each
                sent += group
                sent_settings.update((setting.id, setting) for setting in mine)
            elif result.outcome == "rejected":
                outbox.mark_rejected(session, group, mine, result.error or "")
            elif result.outcome == "retry":
                outbox.mark_retry(
                    session,
                    group,
                    mine,
                    result.error or "",
                    as_of=as_of,
                    policy=self.policy,
                    retry_after=result.retry_after,
                )
            outcomes[result.outcome] += 1
        if sent:
            outbox.mark_sent(session, sent, list(sent_settings.values()))


class _Lease:
    """The batch's lease, renewed before a send whenever a third of it has passed: every
    send then starts with at least two thirds of a lease ahead of it, and a send whose
    cards another worker took over (this lease expired) is skipped."""

    def __init__(
        self, database: Database, owner: str, outgoing: list[Outgoing], seconds: float
    ) -> None:
        self.database = database
        self.owner = owner
        self.ids = [i for item in outgoing for i in item.notification_ids]
        self.seconds = seconds
        self.held: set[uuid.UUID] = set()
        self.renewed_at = -math.inf
        self.lock = threading.Lock()

    def holds(self, ids: Iterable[uuid.UUID]) -> bool:
        with self.lock:
            if time.monotonic() - self.renewed_at > self.seconds / 3:
                with self.database.unit_of_work() as session:
                    self.held = outbox.renew(session, self.ids, self.owner, self.seconds)
                self.renewed_at = time.monotonic()
            return set(ids) <= self.held


def _is_on(
    row: Notification, settings: dict[uuid.UUID, NotificationSetting], notifying: set[uuid.UUID]
) -> bool:
    setting = settings.get(row.setting_id)
    return setting is not None and setting.is_notification_active and row.target_id in notifying


def _by_recipient(
    rows: list[Notification], settings: dict[uuid.UUID, NotificationSetting]
) -> list[list[Notification]]:
    """A digest's cards by the address their settings have now (one may have changed since
    the card was queued); any other channel's claim is one card."""
    if rows[0].channel != "email":
        return [rows]
    groups: dict[str, list[Notification]] = {}
    for row in rows:
        groups.setdefault((settings[row.setting_id].email or "").lower(), []).append(row)
    return list(groups.values())


def _outgoing(
    owner: str,
    rows: list[Notification],
    setting: NotificationSetting,
    uncertain: dict[uuid.UUID, datetime],
) -> Outgoing:
    first = rows[0]
    return Outgoing(
        owner=owner,
        notification_ids=tuple(row.id for row in rows),
        channel=first.channel,
        setting=setting,
        cards=tuple(Card.from_json(row.card) for row in rows),
        message_id=f"{first.id}@tallybook",
        tried_since=_earliest(uncertain.get(row.id) for row in rows),
    )


def _earliest(instants: Iterable[datetime | None]) -> datetime | None:
    known = [instant for instant in instants if instant is not None]
    return min(known) if known else None


def _deliver_bar(session: Session, rows: list[Notification], setting: NotificationSetting) -> str:
    """The chat message and the outbox row commit together; a failure undoes only this card."""
    try:
        with session.begin_nested():
            return _write_bar_card(session, rows, setting)
    except Exception as exc:  # the savepoint is rolled back; the lease expires, then a retry
        log.warning("BAR delivery failed", extra={"error_type": type(exc).__name__})
        return "error"


def _write_bar_card(
    session: Session, rows: list[Notification], setting: NotificationSetting
) -> str:
    row = rows[0]
    chat = (
        get_chat(session, row.organization_id, setting.channel_id)
        if setting.channel_id is not None
        else None
    )
    if chat is None:
        outbox.mark_rejected(
            session, rows, [setting], "The chat of this BAR setting no longer exists."
        )
        return "rejected"
    card = Card.from_json(row.card)
    add_system_message(
        session, chat, message=render.card_text(card), attachments={"reporting_card": row.card}
    )
    outbox.mark_sent(session, rows, [setting])
    return "sent"


@lru_cache(maxsize=256)
def chart_for(card: Card) -> bytes | None:
    """Cards of one target and period are equal, so each chart is drawn once per process."""
    return render.chart_png(card)
