"""Claiming rows for background work with a lease, and idempotent inserts.

A claim is one ``UPDATE … WHERE key IN (SELECT … LIMIT n) RETURNING key`` statement. On
PostgreSQL the inner select takes ``FOR UPDATE SKIP LOCKED``, so concurrent workers pass
over each other's rows instead of waiting; on SQLite the statement runs under the single
database write lock, and the ``WHERE`` is evaluated inside it. Either way a row is claimed
by one worker only, and a lease left by a dead worker is free again once it expires.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import InstrumentedAttribute, Session

from tallybook.kit.db import on_postgresql


def new_lease_owner(worker: str) -> str:
    """A token unique to one claim, so a worker can tell its own lease from its old ones."""
    return f"{worker[:40]}:{secrets.token_hex(8)}"


def lease_is_free(lease_until: InstrumentedAttribute[Any], now: datetime) -> ColumnElement[bool]:
    return or_(lease_until.is_(None), lease_until < now)


def claim(
    session: Session,
    model: Any,
    key: InstrumentedAttribute[Any],
    where: Sequence[ColumnElement[bool]],
    order_by: Sequence[Any],
    *,
    limit: int,
    owner: str,
    lease_until: datetime,
    now: datetime,
    extra_values: dict[str, Any] | None = None,
) -> list[Any]:
    """Lease up to ``limit`` rows matching ``where`` whose lease is free; their keys."""
    free = lease_is_free(model.lease_until, now)
    candidates = select(key).where(*where, free).order_by(*order_by).limit(limit)
    if on_postgresql(session):
        candidates = candidates.with_for_update(skip_locked=True)
    stmt = (
        update(model)
        .where(key.in_(candidates.scalar_subquery()), free)
        .values(lease_owner=owner, lease_until=lease_until, **(extra_values or {}))
        .returning(key)
        .execution_options(synchronize_session=False)
    )
    return list(session.scalars(stmt))


def hold(
    session: Session,
    model: Any,
    key: InstrumentedAttribute[Any],
    keys: Sequence[Any],
    owner: str,
    *,
    where: Sequence[ColumnElement[bool]] = (),
    lease_until: datetime | None = None,
) -> set[Any]:
    """Of ``keys``, those this claim still owns, locked until the transaction ends; with
    ``lease_until``, their lease is extended too.

    An UPDATE (a no-op one without ``lease_until``): on PostgreSQL it takes the rows'
    locks, on SQLite the database's write lock, so no other worker can take a lease over
    between this check and the commit.
    """
    if not keys:
        return set()
    values = {"lease_owner": owner} if lease_until is None else {"lease_until": lease_until}
    stmt = (
        update(model)
        .where(key.in_(keys), model.lease_owner == owner, *where)
        .values(**values)
        .returning(key)
        .execution_options(synchronize_session=False)
    )
    return set(session.scalars(stmt))


def insert_ignoring_duplicates(session: Session, model: Any, rows: Sequence[dict[str, Any]]) -> int:
    """Insert rows, skipping those that break a unique constraint; how many went in."""
    if not rows:
        return 0
    insert = postgresql.insert if on_postgresql(session) else sqlite.insert
    stmt = insert(model).on_conflict_do_nothing()
    result = session.execute(stmt, list(rows))
    count: int = getattr(result, "rowcount", 0) or 0
    return count
