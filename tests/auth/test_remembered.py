"""A process remembers a token's caller, and whether an organisation sending events is
active, for ``TALLYBOOK_AUTH_CACHE_SECONDS``: no query for a token or organisation seen
lately, an operator's change in the database taking effect once that time has passed (at
once with 0), and an unknown key or organisation never remembered."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, update

from tallybook.app import create_app
from tallybook.auth.models import ApiToken
from tallybook.auth.principal import KnownPrincipals
from tallybook.auth.tokens import hash_key, new_key
from tallybook.events.store import EventStore
from tallybook.kit.db import Database
from tallybook.kit.memory import Remembered
from tallybook.organizations.models import Organization, User
from tests.events.factories import STORE, event
from tests.fixtures.statements import statements
from tests.fixtures.tenants import Tenant

BODY = {
    "vendor": "com.example.shop",
    "interval": {"start": "2021-07-01T00:00:00Z", "end": "2021-07-02T00:00:00Z"},
}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def _client(
    database: Database, event_store: EventStore, seconds: float, clock: Clock
) -> Iterator[TestClient]:
    app = create_app(database.settings, database, event_store)
    app.state.principals = KnownPrincipals(database, Remembered(seconds, clock=clock))
    app.state.subscriptions = Remembered[uuid.UUID, bool](seconds, clock=clock)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def remembering(database: Database, event_store: EventStore, clock: Clock) -> Iterator[TestClient]:
    yield from _client(database, event_store, 5.0, clock)


@pytest.fixture
def forgetting(database: Database, event_store: EventStore, clock: Clock) -> Iterator[TestClient]:
    yield from _client(database, event_store, 0.0, clock)


def _fetch(client: TestClient, tenant: Tenant, headers: dict[str, str] | None = None) -> Any:
    return client.post(
        f"/api/events/v2/orgs/{tenant.org_id}/fetch",
        json=BODY,
        headers=tenant.headers if headers is None else headers,
    )


def _refusal(response: Any) -> str:
    """The code of a 403 (anything else fails)."""
    assert response.status_code == 403, response.text
    return str(response.json()["code"])


def _change(database: Database, model: Any, row_id: Any, **values: Any) -> None:
    with database.unit_of_work() as session:
        session.execute(update(model).where(model.id == row_id).values(**values))


def _asks_only_once(database: Database, call: Callable[[], Any], table: str) -> None:
    """The first call reads ``table``; the same call again runs no SQL at all."""
    with statements(database) as first:
        assert call().status_code == 200
    assert [s for s in first if table in s]
    with statements(database) as again:
        assert call().status_code == 200
    assert again == []


def _refused_once_remembered(
    clock: Clock, call: Callable[[], Any], change: Callable[[], None]
) -> str:
    """The call succeeds, ``change`` is made in the database, the call still succeeds until
    the remembered 5 s have passed, and then is refused: the refusal's code."""
    assert call().status_code == 200
    change()
    clock.now += 4.9
    assert call().status_code == 200
    clock.now += 0.2
    return _refusal(call())


def test_a_token_seen_lately_needs_no_query(
    remembering: TestClient, database: Database, tenant: Tenant
) -> None:
    _asks_only_once(database, lambda: _fetch(remembering, tenant), "api_tokens")


def test_a_change_takes_effect_when_the_time_has_passed(
    remembering: TestClient, database: Database, tenant: Tenant, clock: Clock
) -> None:
    def change() -> None:
        _change(database, User, tenant.user_id, permissions=["settings"])
        _change(database, Organization, tenant.org_id, subscription_active=False)

    refused = _refused_once_remembered(clock, lambda: _fetch(remembering, tenant), change)
    assert refused == "subscription_inactive"
    _change(database, Organization, tenant.org_id, subscription_active=True)
    clock.now += 5.1
    assert _refusal(_fetch(remembering, tenant)) == "permission_denied"


def test_a_remembered_inactive_organisation_is_refused_every_time(
    remembering: TestClient, new_tenant: Any
) -> None:
    inactive = new_tenant(active=False)
    for _ in range(2):
        assert _refusal(_fetch(remembering, inactive)) == "subscription_inactive"


def test_with_no_memory_a_change_takes_effect_at_once(
    forgetting: TestClient, database: Database, tenant: Tenant
) -> None:
    assert _fetch(forgetting, tenant).status_code == 200
    _change(database, Organization, tenant.org_id, subscription_active=False)
    assert _refusal(_fetch(forgetting, tenant)) == "subscription_inactive"


def test_a_deleted_token_stops_working_when_the_time_has_passed(
    remembering: TestClient, database: Database, tenant: Tenant, clock: Clock
) -> None:
    assert _fetch(remembering, tenant).status_code == 200
    with database.unit_of_work() as session:
        session.execute(delete(ApiToken).where(ApiToken.user_id == tenant.user_id))
    clock.now += 5.1
    assert _fetch(remembering, tenant).status_code == 401


def test_an_unknown_key_is_not_remembered(
    remembering: TestClient, database: Database, tenant: Tenant
) -> None:
    key = new_key()
    headers = {"Authorization": f"Token {key}"}
    assert _fetch(remembering, tenant, headers).status_code == 401
    with database.unit_of_work() as session:
        session.add(ApiToken(user_id=tenant.user_id, key_hash=hash_key(key), prefix=key[:8]))
    assert _fetch(remembering, tenant, headers).status_code == 200


def _send(client: TestClient, tenant: Tenant) -> Any:
    return client.post(f"{STORE}/untrusted", json={"events": [event(tenant)]})


def test_an_organisation_sending_lately_needs_no_query(
    remembering: TestClient, database: Database, tenant: Tenant
) -> None:
    _asks_only_once(database, lambda: _send(remembering, tenant), "organizations")


def test_a_subscription_ended_stops_events_when_the_time_has_passed(
    remembering: TestClient, database: Database, tenant: Tenant, clock: Clock
) -> None:
    def change() -> None:
        _change(database, Organization, tenant.org_id, subscription_active=False)

    refused = _refused_once_remembered(clock, lambda: _send(remembering, tenant), change)
    assert refused == "subscription_inactive"


def test_an_unknown_organisation_is_not_remembered(
    remembering: TestClient, database: Database, tenant: Tenant
) -> None:
    unborn = uuid.uuid4()
    stranger = Tenant(unborn, tenant.user_id, tenant.user_number, tenant.token)
    assert _send(remembering, stranger).status_code == 400
    with database.unit_of_work() as session:
        session.add(Organization(id=unborn, name="Born just now", timezone="UTC"))
    assert _send(remembering, stranger).status_code == 200
