"""Who is calling: the user of a token and its organisation, found by the key's hash."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool

from tallybook.auth.repository import principal_by_key_hash
from tallybook.auth.tokens import hash_key, key_from_header
from tallybook.kit.db import Database
from tallybook.kit.errors import NotAuthenticated, SubscriptionInactive
from tallybook.kit.memory import Remembered
from tallybook.organizations.models import Organization, User

NOT_AUTHENTICATED = "Authentication credentials were not provided or are invalid."


@dataclass(frozen=True)
class Principal:
    user: User
    organization: Organization

    @property
    def organization_id(self) -> uuid.UUID:
        return self.organization.id

    def has(self, permission: str) -> bool:
        return permission in (self.user.permissions or [])

    def active(self) -> Principal:
        """Itself, or 403 when its organisation's subscription is not active."""
        if not self.organization.subscription_active:
            raise SubscriptionInactive("The organisation has no active subscription.")
        return self


class KnownPrincipals:
    """The principals of the tokens used lately, by their key's hash, so that a client's
    next requests find their caller without a query and its trips to the thread pool. One
    per process (``app.state.principals``).

    A change an operator makes in the database (a user's permissions, an organisation's
    subscription, a token deleted) reaches the process once the memory's time has passed.
    An unknown key is never remembered: a token made a moment ago works at once. The user
    and organisation kept are detached, fully loaded rows, only ever read."""

    def __init__(self, database: Database, memory: Remembered[str, Principal]) -> None:
        self._database = database
        self._memory = memory

    async def principal(self, header: str | None, query_token: str | None) -> Principal:
        """The caller of a request, or 401 / 403 (subscription) as the first checks say;
        from memory when the key was used lately."""
        key = key_from_header(header) or query_token
        if not key:
            raise NotAuthenticated(NOT_AUTHENTICATED)
        key_hash = hash_key(key)
        principal = self._memory.get(key_hash)
        if principal is None:
            principal = await run_in_threadpool(self._look_up, key_hash)
            self._memory.put(key_hash, principal)
        return principal.active()

    def _look_up(self, key_hash: str) -> Principal:
        with self._database.unit_of_work() as session:
            found = principal_by_key_hash(session, key_hash)
        if found is None:
            raise NotAuthenticated(NOT_AUTHENTICATED)
        return Principal(*found)
