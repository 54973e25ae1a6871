"""The relational store's connections (kit.db.Database)."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from tallybook.kit.db import Database, plan_for_values


def _plans(session: Session, comparison: str) -> list[tuple[int, int]]:
    """Runs a statement 12 times and answers its (generic, custom) plan counts."""
    sql = f"SELECT count(*) FROM users WHERE organization_id = :org AND number {comparison} :n"
    for n in range(12):
        session.execute(text(sql), {"org": uuid.uuid4(), "n": n}).scalar()
    found = session.execute(
        text("SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement = :s"),
        {"s": sql.replace(":org", "$1").replace(":n", "$2")},
    ).all()
    assert found, "expected psycopg to have prepared the statement"
    return [(int(generic), int(custom)) for generic, custom in found]


def test_postgresql_plans_for_values_only_where_asked(database: Database) -> None:
    """psycopg prepares a statement after 5 runs. After ``plan_for_values`` PostgreSQL
    still plans it for the values of each run (a year of reads or a day of them), never
    with a generic plan; elsewhere, and after the transaction, it keeps its default, so
    short statements are not planned again at every run."""
    if database.dialect != "postgresql":
        pytest.skip("SQLite has no prepared plans to choose between")
    with database.engine.connect() as connection, Session(bind=connection) as session:
        backend = session.execute(text("SELECT pg_backend_pid()")).scalar()
        assert session.execute(text("SHOW plan_cache_mode")).scalar() == "auto"
        plan_for_values(session)
        assert session.execute(text("SHOW plan_cache_mode")).scalar() == "force_custom_plan"
        assert all(generic == 0 and custom > 0 for generic, custom in _plans(session, ">"))
        session.commit()
        # the same connection, the transaction over: the setting went with it
        assert session.execute(text("SELECT pg_backend_pid()")).scalar() == backend
        assert session.execute(text("SHOW plan_cache_mode")).scalar() == "auto"
        assert any(generic > 0 for generic, _custom in _plans(session, ">="))
