"""BAR delivery: the card as a system message in one of the organisation's chats.

The chat message is written in the worker's own transaction, so the message and the outbox
row's ``sent`` commit together: exactly once.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from sqlalchemy.orm import Session

from tallybook.chats.repository import get_chat, get_chat_by_pk
from tallybook.chats.service import add_system_message
from tallybook.kit.errors import invalid
from tallybook.notifications.cards import render
from tallybook.notifications.channels.base import DeliveryContext, Outgoing, one_message_per_card
from tallybook.notifications.channels.errors import (
    ConfigurationProblem,
    DeliveryError,
    TransientProblem,
)
from tallybook.notifications.models import Notification, NotificationSetting

CHAT_GONE = "The chat of this BAR setting no longer exists."


class BarChannel:
    label = "BAR"
    setting_fields: tuple[str, ...] = ("channel_id",)
    address_fields: tuple[str, ...] = ("channel_id",)
    # ``channel_id`` is a chat's id in its organisation; the setting keeps the chat itself.
    stored_as: Mapping[str, str] = MappingProxyType({"channel_id": "chat"})
    delivers_in_transaction = True

    def check_setting(
        self,
        session: Session,
        organization_id: uuid.UUID,
        values: dict[str, Any],
        current: NotificationSetting | None,
        *,
        allow_private: bool,
    ) -> dict[str, Any]:
        if "channel_id" not in values:
            return values
        chat = get_chat(session, organization_id, values["channel_id"])
        if chat is None:
            raise invalid(["channel_id"], "No such chat in this organisation.")
        return values | {"channel_id": chat}

    def bundle_key(self, setting: NotificationSetting) -> str | None:
        return None

    def prepare(
        self, rows: list[Notification], settings: Mapping[uuid.UUID, NotificationSetting]
    ) -> list[list[Notification]]:
        return one_message_per_card(rows)

    def deliver(self, outgoing: Outgoing, context: DeliveryContext) -> None:
        session = context.session
        if session is None:
            raise TypeError("BAR delivers inside the worker's transaction")
        setting = outgoing.setting
        chat = (
            get_chat_by_pk(session, setting.organization_id, setting.chat_pk)
            if setting.chat_pk is not None
            else None
        )
        if chat is None:
            raise ConfigurationProblem(CHAT_GONE)
        add_system_message(
            session,
            chat,
            message=render.card_text(outgoing.cards[0]),
            attachments={"reporting_card": outgoing.stored_cards[0]},
        )

    def classify(self, error: Exception) -> DeliveryError:
        # The savepoint is rolled back; the card is tried again later.
        return TransientProblem("The card could not be written to the chat.")
