"""Fixtures for the chat tests."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.chats.factories import ChatApi
from tests.fixtures.tenants import Tenant


@pytest.fixture
def api(client: TestClient, tenant: Tenant) -> ChatApi:
    return ChatApi(client, tenant)


@pytest.fixture
def room_id(api: ChatApi) -> str:
    return str(api.room()["id"])
