"""Who is calling: the user of a token and its organisation, found by the key's hash."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.orm import Session

from tallybook.auth.repository import principal_by_key_hash
from tallybook.auth.tokens import hash_key, key_from_header
from tallybook.kit.errors import NotAuthenticated, SubscriptionInactive
from tallybook.organizations.models import Organization, User


@dataclass(frozen=True)
class Principal:
    user: User
    organization: Organization

    @property
    def organization_id(self) -> uuid.UUID:
        return self.organization.id

    def has(self, permission: str) -> bool:
        return permission in (self.user.permissions or [])


def principal_for(session: Session, header: str | None, query_token: str | None) -> Principal:
    """The caller of a request, or 401 / 403 (subscription) as the first checks say."""
    key = key_from_header(header) or query_token
    found = principal_by_key_hash(session, hash_key(key)) if key else None
    if found is None:
        raise NotAuthenticated("Authentication credentials were not provided or are invalid.")
    user, organization = found
    if not organization.subscription_active:
        raise SubscriptionInactive("The organisation has no active subscription.")
    return Principal(user, organization)
