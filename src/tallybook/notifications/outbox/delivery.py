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

from sqlalchemy.orm import Session

from tallybook.kit.db import Database
from tallybook.notifications.cards.data import Card
from tallybook.notifications.channels.base import Channel, DeliveryContext, Outgoing
from tallybook.notifications.channels.errors import ConfigurationProblem, TransientProblem
from tallybook.notifications.channels.registry import channel_for
from tallybook.notifications.models import Notification, NotificationSetting
from tallybook.notifications.outbox import queue, states
from tallybook.notifications.states import AttemptOutcome
from tallybook.settings import Settings

log = logging.getLogger("tallybook.delivery")

SWITCHED_OFF = "Notifications were switched off before delivery."
LOST = "lost"  # an outcome count only: another worker took the card over (not stored)

Clock = Callable[[], datetime]
"""The instant a pass has reached: its ``as_of`` plus the time it has run."""


@dataclass(frozen=True)
class Result:
    outgoing: Outgoing
    outcome: str  # an AttemptOutcome (sent | rejected | retry), or LOST
    error: str | None = None
    retry_after: float | None = None


class Deliverer:
    def __init__(self, database: Database, settings: Settings) -> None:
        self.database = database
        self.settings = settings
        self.policy = states.RetryPolicy(
            initial=timedelta(seconds=settings.retry_initial),
            maximum=timedelta(seconds=settings.retry_max),
            give_up_after=timedelta(seconds=settings.retry_give_up),
        )

    def deliver(self, claims: list[queue.Claim], clock: Clock, pool: Executor) -> dict[str, int]:
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
        # What was sent is committed first, on its own: should recording the other outcomes
        # fail, those cards are only tried again, and no card that went out goes out twice.
        sent = [result for result in results if result.outcome == AttemptOutcome.SENT]
        rest = [result for result in results if result.outcome != AttemptOutcome.SENT]
        for part in (sent, rest):
            if part:
                with self.database.unit_of_work() as session:
                    self._record(session, owner, part, clock(), outcomes)
        return {str(name): count for name, count in outcomes.items()}

    def _prepare(
        self,
        session: Session,
        claims: list[queue.Claim],
        as_of: datetime,
        outcomes: Counter[str],
    ) -> list[Outgoing]:
        owner = claims[0].owner
        rows = queue.lock_claimed(session, [i for c in claims for i in c.notification_ids], owner)
        settings = queue.settings_of(session, list(rows.values()))
        notifying = queue.targets_notifying(session, list(rows.values()))
        uncertain = queue.uncertain_since(session, list(rows.values()))
        outgoing = []
        for claimed in claims:
            group = [rows[i] for i in claimed.notification_ids if i in rows]
            live = [r for r in group if _is_on(r, settings, notifying)]
            off = [r for r in group if r not in live]
            if off:
                states.mark_cancelled(session, off, SWITCHED_OFF)
                outcomes[AttemptOutcome.CANCELLED] += len(off)
            if not group:
                outcomes[LOST] += 1
            if not live:
                continue
            channel = channel_for(live[0].channel_type)
            for message_rows in channel.prepare(live, settings):
                message = _outgoing(
                    owner, message_rows, settings[message_rows[0].setting_id], uncertain
                )
                if channel.delivers_in_transaction:
                    outcomes[
                        self._deliver_here(session, channel, message, message_rows, as_of)
                    ] += 1
                else:
                    outgoing.append(message)
        return outgoing

    def _deliver_here(
        self,
        session: Session,
        channel: Channel,
        outgoing: Outgoing,
        rows: list[Notification],
        as_of: datetime,
    ) -> AttemptOutcome:
        """A channel writing our own database: its message and the rows' outcome commit
        together; a failure undoes only this card."""
        setting = outgoing.setting
        context = DeliveryContext(self.settings, session)
        try:
            with session.begin_nested():
                channel.deliver(outgoing, context)
                states.mark_sent(session, rows, [setting])
            return AttemptOutcome.SENT
        except ConfigurationProblem as problem:
            states.mark_rejected(session, rows, [setting], str(problem))
            return AttemptOutcome.REJECTED
        except Exception as exc:  # the savepoint is rolled back; retried later
            log.warning(
                f"{channel.label} delivery failed", extra={"error_type": type(exc).__name__}
            )
            verdict = channel.classify(exc)
            if isinstance(verdict, ConfigurationProblem):
                states.mark_rejected(session, rows, [setting], str(verdict))
                return AttemptOutcome.REJECTED
            states.mark_retry(
                session,
                rows,
                [setting],
                str(verdict),
                as_of=as_of,
                policy=self.policy,
                retry_after=None,
            )
            return AttemptOutcome.RETRY

    def _attempt(self, outgoing: Outgoing, lease: _Lease) -> Result:
        if not lease.holds(outgoing.notification_ids):
            return Result(outgoing, LOST)  # another worker took it over: it sends
        channel = channel_for(outgoing.channel_type)
        try:
            channel.deliver(outgoing, DeliveryContext(self.settings))
        except ConfigurationProblem as problem:
            return Result(outgoing, AttemptOutcome.REJECTED, str(problem))
        except TransientProblem as problem:
            return Result(outgoing, AttemptOutcome.RETRY, str(problem), problem.retry_after)
        except Exception as exc:
            log.warning(
                "delivery failed unexpectedly",
                extra={"error_type": type(exc).__name__, "channel": outgoing.channel_type},
            )
            verdict = channel.classify(exc)
            if isinstance(verdict, ConfigurationProblem):
                return Result(outgoing, AttemptOutcome.REJECTED, str(verdict))
            retry_after = verdict.retry_after if isinstance(verdict, TransientProblem) else None
            return Result(outgoing, AttemptOutcome.RETRY, str(verdict), retry_after)
        return Result(outgoing, AttemptOutcome.SENT)

    def _record(
        self,
        session: Session,
        owner: str,
        results: list[Result],
        as_of: datetime,
        outcomes: Counter[str],
    ) -> None:
        ids = [i for result in results for i in result.outgoing.notification_ids]
        rows = queue.lock_claimed(session, ids, owner)
        settings = queue.settings_of(session, list(rows.values()))
        sent: list[Notification] = []
        sent_settings: dict[uuid.UUID, NotificationSetting] = {}
        for result in results:
            group = [rows[i] for i in result.outgoing.notification_ids if i in rows]
            if result.outcome == LOST:
                outcomes[LOST] += 1
                continue
            if not group:
                log.warning("delivery finished after its lease expired")
                outcomes[LOST] += 1
                continue
            mine = list({r.setting_id: settings[r.setting_id] for r in group}.values())
            if (
                result.outcome == AttemptOutcome.SENT
            ):  # recorded together below: one statement, not one each
                sent += group
                sent_settings.update((setting.id, setting) for setting in mine)
            elif result.outcome == AttemptOutcome.REJECTED:
                states.mark_rejected(session, group, mine, result.error or "")
            elif result.outcome == AttemptOutcome.RETRY:
                states.mark_retry(
                    session,
                    group,
                    mine,
                    result.error or "",
                    as_of=as_of,
                    policy=self.policy,
                    retry_after=result.retry_after,
                )
            outcomes[str(result.outcome)] += 1
        if sent:
            states.mark_sent(session, sent, list(sent_settings.values()))


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
                    self.held = queue.renew(session, self.ids, self.owner, self.seconds)
                self.renewed_at = time.monotonic()
            return set(ids) <= self.held


def _is_on(
    row: Notification, settings: dict[uuid.UUID, NotificationSetting], notifying: set[uuid.UUID]
) -> bool:
    setting = settings.get(row.setting_id)
    return setting is not None and setting.is_notification_active and row.target_id in notifying


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
        channel_type=first.channel_type,
        setting=setting,
        cards=tuple(Card.from_json(row.card) for row in rows),
        stored_cards=tuple(row.card for row in rows),
        message_id=f"{first.id}@tallybook",
        tried_since=_earliest(uncertain.get(row.id) for row in rows),
    )


def _earliest(instants: Iterable[datetime | None]) -> datetime | None:
    known = [instant for instant in instants if instant is not None]
    return min(known) if known else None
