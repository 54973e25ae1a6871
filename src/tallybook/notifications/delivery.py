"""Delivering one claimed notification (or one e-mail digest): a three-step flow.

1. In a transaction: reload the claimed rows and their settings, cancel what was switched
   off, and copy out what the channel needs.
2. Outside any transaction: talk to Slack or the SMTP server.
3. In a transaction: record the outcome, if the claim still holds its lease.

BAR cards are chat messages in our own database, so for them steps 1–3 are one transaction
and a card is written exactly once. For Slack and e-mail the only window for a duplicate is
a crash between the remote server's acceptance and step 3's commit; e-mail resends keep the
first attempt's Message-ID so mail clients fold them together.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from sqlalchemy import select
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
from tallybook.targets.models import Target

log = logging.getLogger("tallybook.delivery")


@dataclass(frozen=True)
class Outgoing:
    """What one delivery needs, copied out of the session before talking to the network."""

    channel: str
    setting: NotificationSetting  # detached copy; read only
    cards: tuple[Card, ...]
    message_id: str  # also the card's key in Slack message metadata
    tried_since: datetime | None  # when an earlier attempt that may have got through began


class Deliverer:
    def __init__(self, database: Database, settings: Settings) -> None:
        self.database = database
        self.settings = settings
        self.policy = outbox.RetryPolicy(
            initial=timedelta(seconds=settings.retry_initial),
            maximum=timedelta(seconds=settings.retry_max),
            give_up_after=timedelta(seconds=settings.retry_give_up),
        )

    def deliver(self, claimed: outbox.Claim, as_of: datetime) -> str:
        """Deliver and record; the outcome (sent, retry, rejected, cancelled, lost)."""
        with self.database.unit_of_work() as session:
            rows = outbox.load_claimed(session, claimed)
            live = self._drop_switched_off(session, rows)
            if not live:
                return "cancelled" if rows else "lost"
            if live[0].channel == "bar":
                return _deliver_bar(session, live, outbox.settings_of(session, live))
            outgoing = _outgoing(
                live, outbox.settings_of(session, live), outbox.uncertain_since(session, live[0])
            )
            ids = outbox.Claim(claimed.owner, tuple(row.id for row in live))
        try:
            self._send(outgoing)
        except ConfigurationProblem as problem:
            return self._record(ids, as_of, rejected=str(problem))
        except TransientProblem as problem:
            return self._record(ids, as_of, retry=str(problem), retry_after=problem.retry_after)
        except Exception as exc:  # a bug or an unexpected library error: retry, log the type
            log.warning(
                "delivery failed unexpectedly",
                extra={
                    "error_type": type(exc).__name__,
                    "notification": str(ids.notification_ids[0]),
                },
            )
            return self._record(ids, as_of, retry=f"Unexpected error ({type(exc).__name__}).")
        return self._record(ids, as_of)

    def _drop_switched_off(self, session: Session, rows: list[Notification]) -> list[Notification]:
        if not rows:
            return []
        settings = outbox.settings_of(session, rows)
        targets_on = set(
            session.scalars(
                select(Target.id).where(
                    Target.organization_id == rows[0].organization_id,
                    Target.id.in_({row.target_id for row in rows}),
                    Target.are_notifications_active.is_(True),
                )
            )
        )
        live: list[Notification] = []
        off: list[Notification] = []
        for row in rows:
            setting = settings.get(row.setting_id)
            on = setting is not None and setting.is_notification_active
            (live if on and row.target_id in targets_on else off).append(row)
        if off:
            outbox.mark_cancelled(session, off, "Notifications were switched off before delivery.")
        return live

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
        claimed: outbox.Claim,
        as_of: datetime,
        *,
        rejected: str | None = None,
        retry: str | None = None,
        retry_after: float | None = None,
    ) -> str:
        with self.database.unit_of_work() as session:
            rows = outbox.load_claimed(session, claimed)
            if not rows:
                log.warning("delivery finished after its lease expired")
                return "lost"
            settings = list(outbox.settings_of(session, rows).values())
            if rejected is not None:
                outbox.mark_rejected(session, rows, settings, rejected)
                return "rejected"
            if retry is not None:
                outbox.mark_retry(
                    session,
                    rows,
                    settings,
                    retry,
                    as_of=as_of,
                    policy=self.policy,
                    retry_after=retry_after,
                )
                return "retry"
            outbox.mark_sent(session, rows, settings)
            return "sent"


def _outgoing(
    rows: list[Notification],
    settings: dict[uuid.UUID, NotificationSetting],
    tried_since: datetime | None,
) -> Outgoing:
    first = rows[0]
    setting = settings[first.setting_id]
    return Outgoing(
        channel=first.channel,
        setting=setting,
        cards=tuple(Card.from_json(row.card) for row in rows),
        message_id=f"{first.id}@tallybook",
        tried_since=tried_since,
    )


def _deliver_bar(
    session: Session, rows: list[Notification], settings: dict[uuid.UUID, NotificationSetting]
) -> str:
    row = rows[0]
    setting = settings[row.setting_id]
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
