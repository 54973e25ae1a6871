"""The relational store's connections (kit.db.Database)."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text

from tallybook.kit.db import Database


def test_postgresql_plans_each_statement_for_its_values(database: Database) -> None:
    """psycopg prepares a statement after 5 runs; PostgreSQL must still plan it for the
    values of each run (a year of reads or a day of them), never with a generic plan."""
    if database.dialect != "postgresql":
        pytest.skip("SQLite has no prepared plans to choose between")
    statement = text("SELECT count(*) FROM users WHERE organization_id = :org AND number > :n")
    with database.engine.connect() as connection:
        assert connection.execute(text("SHOW plan_cache_mode")).scalar() == "force_custom_plan"
        for n in range(12):
            connection.execute(statement, {"org": uuid.uuid4(), "n": n}).scalar()
        plans = connection.execute(
            text(
                "SELECT generic_plans, custom_plans FROM pg_prepared_statements"
                " WHERE statement LIKE 'SELECT count(*) FROM users WHERE organization_id%'"
            )
        ).all()
    assert plans, "expected psycopg to have prepared the statement"
    assert all(generic == 0 and custom > 0 for generic, custom in plans)
