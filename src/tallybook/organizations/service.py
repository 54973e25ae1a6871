"""Organisations and users: made by operators (admin CLI, demo), not by the API."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy.orm import Session

from tallybook.kit.timezones import check_timezone
from tallybook.organizations.models import PERMISSIONS, Organization, User


class AdminError(ValueError):
    """An operator's request that cannot be carried out; the message says why."""


def create_organization(
    session: Session, name: str, timezone: str = "UTC", *, active: bool = True
) -> Organization:
    if not name.strip() or len(name) > 255:
        raise AdminError("The organisation name must have 1 to 255 characters.")
    try:
        check_timezone(timezone)
    except ValueError as exc:
        raise AdminError(str(exc)) from None
    org = Organization(name=name, timezone=timezone, subscription_active=active)
    session.add(org)
    session.flush()
    return org


def create_user(
    session: Session,
    organization_id: uuid.UUID,
    email: str,
    *,
    first_name: str = "",
    last_name: str = "",
    permissions: Iterable[str] = (),
    is_manager: bool = False,
) -> User:
    if session.get(Organization, organization_id) is None:
        raise AdminError(f"No organisation with id {organization_id}.")
    perms = sorted(set(permissions))
    unknown = [p for p in perms if p not in PERMISSIONS]
    if unknown:
        raise AdminError(f"Unknown permission {unknown[0]!r}; known: {', '.join(PERMISSIONS)}.")
    if "@" not in email:
        raise AdminError(f"{email!r} is not an e-mail address.")
    user = User(
        organization_id=organization_id,
        email=email,
        first_name=first_name,
        last_name=last_name,
        permissions=perms,
        is_manager=is_manager,
    )
    session.add(user)
    session.flush()
    return user
