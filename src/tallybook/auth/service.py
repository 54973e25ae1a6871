"""API tokens for a user: made by operators (admin CLI, demo), not by the API."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from tallybook.auth.models import ApiToken
from tallybook.auth.tokens import hash_key, new_key
from tallybook.organizations.models import User
from tallybook.organizations.service import AdminError


def create_token(session: Session, user_id: uuid.UUID) -> str:
    """Creates a token for the user and returns its key; only its hash is kept."""
    user = session.scalars(select(User).where(User.id == user_id)).one_or_none()
    if user is None:
        raise AdminError(f"No user with id {user_id}.")
    key = new_key()
    session.add(ApiToken(user_id=user.id, key_hash=hash_key(key), prefix=key[:8]))
    session.flush()
    return key
