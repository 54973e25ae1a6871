"""The API's literals for chats and messages spell exactly the stored enums' values."""

from __future__ import annotations

from typing import get_args

from tallybook.chats import schemas
from tallybook.chats.types import (
    CLIENT_MESSAGE_TYPES,
    CLIENT_SENDER_TYPES,
    ChatType,
    MessageType,
    SenderType,
)


def test_the_api_literals_match_the_stored_types() -> None:
    assert set(get_args(schemas.ChatType)) == {t.value for t in ChatType}
    assert set(get_args(schemas.MessageType)) == {t.value for t in MessageType}
    assert set(get_args(schemas.SenderType)) == {t.value for t in SenderType}


def test_clients_write_every_type_but_tallybook_s_own() -> None:
    assert set(get_args(schemas.ClientMessageType)) == {t.value for t in CLIENT_MESSAGE_TYPES}
    assert set(get_args(schemas.ClientSenderType)) == {t.value for t in CLIENT_SENDER_TYPES}
