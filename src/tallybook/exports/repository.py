"""All SQL of report exports: the API's reads and writes, the worker's claims and records.

Every read of the API is confined to an organisation inside the query. The worker's
functions take the ids it claimed; each write of an outcome first holds the claim's lease
(``kit.leases.hold``), so a worker that lost its lease writes nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tallybook.chats.models import Room
from tallybook.exports.models import ReportExport
from tallybook.kit.leases import claim, hold
from tallybook.kit.pagination import PageParams, PageResult, paginate
from tallybook.organizations.models import Organization, User


def get_user(session: Session, organization_id: uuid.UUID, user_id: uuid.UUID) -> User | None:
    stmt = select(User).where(User.organization_id == organization_id, User.id == user_id)
    return session.scalars(stmt).one_or_none()


def room_exists(session: Session, organization_id: uuid.UUID, room_id: uuid.UUID) -> bool:
    stmt = select(Room.id).where(Room.organization_id == organization_id, Room.id == room_id)
    return session.scalar(stmt) is not None


def get_export(
    session: Session, organization_id: uuid.UUID, user_id: uuid.UUID, export_id: uuid.UUID
) -> ReportExport | None:
    stmt = select(ReportExport).where(
        ReportExport.organization_id == organization_id,
        ReportExport.user_id == user_id,
        ReportExport.id == export_id,
    )
    return session.scalars(stmt).one_or_none()


def list_exports(
    session: Session, organization_id: uuid.UUID, user_id: uuid.UUID, params: PageParams
) -> PageResult:
    stmt = select(ReportExport).where(
        ReportExport.organization_id == organization_id, ReportExport.user_id == user_id
    )
    return paginate(session, stmt, ReportExport.created_at, ReportExport.id, params)


def get_for_download(
    session: Session, organization_id: uuid.UUID, export_id: uuid.UUID
) -> ReportExport | None:
    """The export a signed link names (the link's signature vouches for both ids)."""
    stmt = select(ReportExport).where(
        ReportExport.organization_id == organization_id, ReportExport.id == export_id
    )
    return session.scalars(stmt).one_or_none()


def organization_timezone(session: Session, organization_id: uuid.UUID) -> str:
    stmt = select(Organization.timezone).where(Organization.id == organization_id)
    return session.scalars(stmt).one()


# The worker's side.


def claim_due(
    session: Session, *, as_of: datetime, now: datetime, owner: str, lease_until: datetime
) -> uuid.UUID | None:
    """Lease the pending export due longest (``next_attempt_at`` ≤ ``as_of``) and count
    the attempt; its id, or None. A lease is judged on the real clock (``now``)."""
    ids = claim(
        session,
        ReportExport,
        ReportExport.id,
        [ReportExport.completed_at.is_(None), ReportExport.next_attempt_at <= as_of],
        [ReportExport.next_attempt_at, ReportExport.id],
        limit=1,
        owner=owner,
        lease_until=lease_until,
        now=now,
        extra_values={"attempts": ReportExport.attempts + 1},
    )
    return ids[0] if ids else None


def claimed(session: Session, export_id: uuid.UUID, owner: str) -> ReportExport | None:
    """The export, reloaded, while this claim still holds it (locked until the transaction
    ends); None when another worker has taken it over."""
    if not hold(session, ReportExport, ReportExport.id, [export_id], owner):
        return None
    return session.get(ReportExport, export_id, populate_existing=True)


def renew(session: Session, export_id: uuid.UUID, owner: str, lease_until: datetime) -> bool:
    """Extend this claim's lease; False when it has been taken over."""
    held = hold(session, ReportExport, ReportExport.id, [export_id], owner, lease_until=lease_until)
    return bool(held)


def expired_files(session: Session, now: datetime, limit: int) -> Sequence[ReportExport]:
    """Completed exports past ``expires_at`` whose file is still kept."""
    stmt = (
        select(ReportExport)
        .where(ReportExport.expires_at <= now, ReportExport.file_key.is_not(None))
        .order_by(ReportExport.expires_at, ReportExport.id)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def forget_file(session: Session, export_id: uuid.UUID, key: str) -> None:
    """The file at ``key`` is deleted: the export keeps no key (unless it changed since)."""
    session.execute(
        update(ReportExport)
        .where(ReportExport.id == export_id, ReportExport.file_key == key)
        .values(file_key=None)
        .execution_options(synchronize_session=False)
    )
