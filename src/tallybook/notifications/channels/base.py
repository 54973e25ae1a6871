"""What every delivery channel implements (``Channel``) and what it is handed.

A channel is one way a card reaches people: a BAR chat message, a Slack post, an e-mail.
Each one lives in its own module of this package and is listed in ``registry``; the
settings API and the delivery flow find it there by the setting's channel type, so neither
names a channel.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.orm import Session

from tallybook.notifications.cards.data import Card
from tallybook.notifications.channels.errors import DeliveryError
from tallybook.notifications.models import Notification, NotificationSetting
from tallybook.settings import Settings


@dataclass(frozen=True)
class Outgoing:
    """One message to deliver, copied out of the session before talking to the network."""

    owner: str  # the claim's lease token
    notification_ids: tuple[uuid.UUID, ...]
    channel_type: str  # the setting's channel type (``ChannelType``)
    setting: NotificationSetting  # detached; read only
    cards: tuple[Card, ...]
    stored_cards: tuple[dict[str, Any], ...]  # the same cards as stored in the outbox
    message_id: str  # also the card's key in Slack message metadata
    tried_since: datetime | None  # when an earlier attempt that may have got through began


@dataclass(frozen=True)
class DeliveryContext:
    settings: Settings  # the installation's settings (SMTP server, Slack API URL, timeouts)
    session: Session | None = None  # the worker's transaction, for in-transaction channels


class Channel(Protocol):
    """A delivery channel (cf. Alertmanager's ``Notifier``, Grafana's receivers).

    The setting side checks what a user sends; the worker side prepares the claimed
    cards as messages, delivers each one, and says whether a failure is worth a retry.
    """

    label: str  # how messages name the channel: "BAR", "Slack", "email"
    setting_fields: tuple[str, ...]  # the setting's fields this channel delivers with
    address_fields: tuple[str, ...]  # those saying where cards go (a change clears last_error)
    # A field stored under another ``NotificationSetting`` attribute: field -> attribute.
    stored_as: Mapping[str, str]
    delivers_in_transaction: bool  # True: ``deliver`` writes our own database (BAR)

    def check_setting(
        self,
        session: Session,
        organization_id: uuid.UUID,
        values: dict[str, Any],
        current: NotificationSetting | None,
        *,
        allow_private: bool,
    ) -> dict[str, Any]:
        """The delivery fields to store: every one of ``setting_fields`` for a new setting
        (``current`` is None), the changed ones for an update of ``current``. ``values``
        holds the ``setting_fields`` sent. Keyed by field name (see ``stored_as``). Raises
        ``InvalidPayload`` for a bad setting."""
        ...

    def bundle_key(self, setting: NotificationSetting) -> str | None:
        """Cards queued with one key (per organisation) are delivered together, as one
        digest; None delivers each card on its own."""
        ...

    def prepare(
        self, rows: list[Notification], settings: Mapping[uuid.UUID, NotificationSetting]
    ) -> list[list[Notification]]:
        """The claimed rows of one claim as messages, one list of rows per message."""
        ...

    def deliver(self, outgoing: Outgoing, context: DeliveryContext) -> None:
        """Deliver one message; raise ``ConfigurationProblem`` when the setting cannot work
        as configured, ``TransientProblem`` when a later try may succeed."""
        ...

    def classify(self, error: Exception) -> DeliveryError:
        """What an unexpected error during ``deliver`` means: ``TransientProblem`` (retry)
        or ``ConfigurationProblem`` (do not). An error that cannot change between tries —
        a stored URL the HTTP client cannot parse (``outbound.malformed_url``) — is a
        configuration problem: retrying it would fail for ever."""
        ...


def as_attributes(channel: Channel, fields: Mapping[str, Any]) -> dict[str, Any]:
    """Setting fields keyed by the ``NotificationSetting`` attribute that stores each."""
    return {channel.stored_as.get(name, name): value for name, value in fields.items()}


def one_message_per_card(rows: list[Notification]) -> list[list[Notification]]:
    """``Channel.prepare`` for channels without digests: a claim holds one card."""
    return [rows]
