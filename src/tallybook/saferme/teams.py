"""The integer team id of an organisation, made the first time the organisation uses v4."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import Engine, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from tallybook.kit.db import on_postgresql, utcnow
from tallybook.kit.memory import KnownCommitted
from tallybook.saferme.models import Team

_KNOWN: KnownCommitted[UUID, int] = KnownCommitted("v4_teams_made")
"""Team ids by organisation. Safe to keep: a team row is never updated or deleted (only
with its organisation, whose tokens then fail before this is asked, once the process's
memory of callers has let the organisation go: TALLYBOOK_AUTH_CACHE_SECONDS)."""


def known_team_id(engine: Engine, organization_id: UUID) -> int | None:
    """The organisation's team id when this process has already seen it committed."""
    return _KNOWN.known(engine, organization_id)


def team_id_of(session: Session, organization_id: UUID) -> int:
    cached = _KNOWN.get(session, organization_id)
    if cached is not None:
        return cached
    found = session.scalar(select(Team.id).where(Team.organization_id == organization_id))
    if found is not None:
        _KNOWN.put(session, organization_id, found)
        return found
    # Two first requests at once: the second waits for the first's row and takes it.
    insert = postgresql_insert if on_postgresql(session) else sqlite_insert
    session.execute(
        insert(Team)
        .values(organization_id=organization_id, created_at=utcnow())
        .on_conflict_do_nothing(index_elements=["organization_id"])
    )
    _KNOWN.made(session, organization_id)
    made = session.scalar(select(Team.id).where(Team.organization_id == organization_id))
    assert made is not None
    return made
