"""Targets to hang settings on, chats for BAR, and a client with the outbound URL rules on."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tallybook.app import create_app
from tallybook.kit.db import Database
from tests.fixtures.tenants import Tenant
from tests.notifications.factories import TargetPath, insert_chat, make_target


@pytest.fixture
def target(client: TestClient, tenant: Tenant) -> TargetPath:
    return make_target(client, tenant)


@pytest.fixture
def chat_id(database: Database, tenant: Tenant) -> str:
    return insert_chat(database, tenant.org_id)


@pytest.fixture
def strict_client(database: Database) -> TestClient:
    """The app as deployed: outbound URLs must be https and must not name private hosts."""
    settings = database.settings.model_copy(update={"outbound_allow_private": False})
    assert settings.outbound_allow_private is False
    # No `with`: the lifespan would dispose of the engine that the session's app shares.
    return TestClient(create_app(settings, database), raise_server_exceptions=False)


@pytest.fixture
def payloads(chat_id: str) -> Callable[[str], dict[str, Any]]:
    """A minimal valid POST body per kind."""

    def payload(kind: str) -> dict[str, Any]:
        return {
            "bar": {"channel_id": chat_id},
            "slack": {"token": "xoxb-1111-2222-abcdefgh", "channel": "#reports"},
            "email": {"email": "team@example.com"},
        }[kind]

    return payload
