from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from tallybook.auth.models import ApiToken
from tallybook.organizations.models import Organization, User


def principal_by_key_hash(session: Session, key_hash: str) -> tuple[User, Organization] | None:
    stmt = (
        select(User, Organization)
        .join(ApiToken, ApiToken.user_id == User.id)
        .join(Organization, Organization.id == User.organization_id)
        .where(ApiToken.key_hash == key_hash)
    )
    row = session.execute(stmt).first()
    return (row[0], row[1]) if row else None
