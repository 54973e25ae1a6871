"""The integer team id of an organisation, made the first time the organisation uses v4."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from tallybook.kit.db import on_postgresql, utcnow
from tallybook.saferme.models import Team


def team_id_of(session: Session, organization_id: UUID) -> int:
    found = session.scalar(select(Team.id).where(Team.organization_id == organization_id))
    if found is not None:
        return found
    # Two first requests at once: the second waits for the first's row and takes it.
    insert = postgresql_insert if on_postgresql(session) else sqlite_insert
    session.execute(
        insert(Team)
        .values(organization_id=organization_id, created_at=utcnow())
        .on_conflict_do_nothing(index_elements=["organization_id"])
    )
    made = session.scalar(select(Team.id).where(Team.organization_id == organization_id))
    assert made is not None
    return made
