"""v4 analytics: indexes that count without sorting, and each read's and alert's previous one

The analytics count in one statement each, and neither store may sort or hash the
hundreds of thousands of rows of a year to do it (SQLite has no hash aggregation):

- the reports, option selections and alerts get indexes led by the thing counted per
  row of the answer (state, user, option), so that each row of the answer is one range
  count of an index;
- a read carries when the same user last read the same report before it, and when anyone
  last read it (``previous_pair_read_at``, ``previous_report_read_at``); an alert when the
  same user was last alerted to the same report (``previous_pair_alert_at``). A read is
  then the first of its pair (or report) in a window when its previous one is not in the
  window, so distinct pairs and reports are counted in one pass, without DISTINCT.
  Triggers keep the columns right whatever writes the rows, in any order (imports come
  with their own ``created_at``); on PostgreSQL they take a transaction lock on the report
  first, so that two reads of one report at once see each other.

The indexes they replace (``(channel_id, created_at, …)`` on selections, reads and
alerts) are dropped.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 04:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import tallybook.kit.db

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# On PostgreSQL the triggers first take a transaction-scoped advisory lock on the report,
# pg_advisory_xact_lock(61001, report) for reads and (61002, report) for alerts: two
# transactions writing reads (or alerts) of one report then see each other's rows.

# A row's previous one: the latest of the same (user and) report ordered by (created_at,
# id). At insert time the new row has the largest id, so it is the latest one made at or
# before its created_at; the one after it (the earliest later one) then points at it.
_SQLITE_READS = """
CREATE TRIGGER v4_report_reads_previous AFTER INSERT ON v4_report_reads
BEGIN
    UPDATE v4_report_reads SET
        previous_pair_read_at = (
            SELECT max(x.created_at) FROM v4_report_reads AS x
            WHERE x.report_id = NEW.report_id AND x.user_number = NEW.user_number
              AND x.created_at <= NEW.created_at AND x.id <> NEW.id),
        previous_report_read_at = (
            SELECT max(x.created_at) FROM v4_report_reads AS x
            WHERE x.report_id = NEW.report_id
              AND x.created_at <= NEW.created_at AND x.id <> NEW.id)
    WHERE id = NEW.id;
    UPDATE v4_report_reads SET previous_pair_read_at = NEW.created_at
    WHERE report_id = NEW.report_id AND user_number = NEW.user_number
      AND created_at > NEW.created_at
      AND (previous_pair_read_at IS NULL OR previous_pair_read_at < NEW.created_at);
    UPDATE v4_report_reads SET previous_report_read_at = NEW.created_at
    WHERE report_id = NEW.report_id AND created_at > NEW.created_at
      AND (previous_report_read_at IS NULL OR previous_report_read_at < NEW.created_at);
END
"""

_SQLITE_ALERTS = """
CREATE TRIGGER v4_alerts_previous AFTER INSERT ON v4_alerts
BEGIN
    UPDATE v4_alerts SET previous_pair_alert_at = (
        SELECT max(x.created_at) FROM v4_alerts AS x
        WHERE x.report_id = NEW.report_id AND x.user_number = NEW.user_number
          AND x.created_at <= NEW.created_at AND x.id <> NEW.id)
    WHERE id = NEW.id;
    UPDATE v4_alerts SET previous_pair_alert_at = NEW.created_at
    WHERE report_id = NEW.report_id AND user_number = NEW.user_number
      AND created_at > NEW.created_at
      AND (previous_pair_alert_at IS NULL OR previous_pair_alert_at < NEW.created_at);
END
"""

# A user may delete their alert: the one after it then points at the one before it.
_SQLITE_ALERTS_DELETED = """
CREATE TRIGGER v4_alerts_previous_deleted AFTER DELETE ON v4_alerts
BEGIN
    UPDATE v4_alerts SET previous_pair_alert_at = (
        SELECT max(x.created_at) FROM v4_alerts AS x
        WHERE x.report_id = v4_alerts.report_id AND x.user_number = v4_alerts.user_number
          AND (x.created_at < v4_alerts.created_at
               OR (x.created_at = v4_alerts.created_at AND x.id < v4_alerts.id)))
    WHERE report_id = OLD.report_id AND user_number = OLD.user_number
      AND previous_pair_alert_at = OLD.created_at;
END
"""

_POSTGRESQL_READS = """
CREATE FUNCTION v4_report_reads_previous() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(61001, NEW.report_id);
    SELECT max(created_at) INTO NEW.previous_pair_read_at FROM v4_report_reads
    WHERE report_id = NEW.report_id AND user_number = NEW.user_number
      AND created_at <= NEW.created_at;
    SELECT max(created_at) INTO NEW.previous_report_read_at FROM v4_report_reads
    WHERE report_id = NEW.report_id AND created_at <= NEW.created_at;
    UPDATE v4_report_reads SET previous_pair_read_at = NEW.created_at
    WHERE report_id = NEW.report_id AND user_number = NEW.user_number
      AND created_at > NEW.created_at
      AND (previous_pair_read_at IS NULL OR previous_pair_read_at < NEW.created_at);
    UPDATE v4_report_reads SET previous_report_read_at = NEW.created_at
    WHERE report_id = NEW.report_id AND created_at > NEW.created_at
      AND (previous_report_read_at IS NULL OR previous_report_read_at < NEW.created_at);
    RETURN NEW;
END
$$;
CREATE TRIGGER v4_report_reads_previous BEFORE INSERT ON v4_report_reads
FOR EACH ROW EXECUTE FUNCTION v4_report_reads_previous();
"""

_POSTGRESQL_ALERTS = """
CREATE FUNCTION v4_alerts_previous() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(61002, NEW.report_id);
    SELECT max(created_at) INTO NEW.previous_pair_alert_at FROM v4_alerts
    WHERE report_id = NEW.report_id AND user_number = NEW.user_number
      AND created_at <= NEW.created_at;
    UPDATE v4_alerts SET previous_pair_alert_at = NEW.created_at
    WHERE report_id = NEW.report_id AND user_number = NEW.user_number
      AND created_at > NEW.created_at
      AND (previous_pair_alert_at IS NULL OR previous_pair_alert_at < NEW.created_at);
    RETURN NEW;
END
$$;
CREATE TRIGGER v4_alerts_previous BEFORE INSERT ON v4_alerts
FOR EACH ROW EXECUTE FUNCTION v4_alerts_previous();
CREATE FUNCTION v4_alerts_previous_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(61002, OLD.report_id);
    UPDATE v4_alerts AS a SET previous_pair_alert_at = (
        SELECT max(x.created_at) FROM v4_alerts AS x
        WHERE x.report_id = a.report_id AND x.user_number = a.user_number
          AND (x.created_at < a.created_at OR (x.created_at = a.created_at AND x.id < a.id)))
    WHERE a.report_id = OLD.report_id AND a.user_number = OLD.user_number
      AND a.previous_pair_alert_at = OLD.created_at;
    RETURN NULL;
END
$$;
CREATE TRIGGER v4_alerts_previous_deleted AFTER DELETE ON v4_alerts
FOR EACH ROW EXECUTE FUNCTION v4_alerts_previous_deleted();
"""

# The rows already stored: each one's previous, by (created_at, id).
_BACKFILL = [
    """
    UPDATE v4_report_reads SET
        previous_pair_read_at = (
            SELECT max(x.created_at) FROM v4_report_reads AS x
            WHERE x.report_id = v4_report_reads.report_id
              AND x.user_number = v4_report_reads.user_number
              AND (x.created_at < v4_report_reads.created_at
                   OR (x.created_at = v4_report_reads.created_at
                       AND x.id < v4_report_reads.id))),
        previous_report_read_at = (
            SELECT max(x.created_at) FROM v4_report_reads AS x
            WHERE x.report_id = v4_report_reads.report_id
              AND (x.created_at < v4_report_reads.created_at
                   OR (x.created_at = v4_report_reads.created_at
                       AND x.id < v4_report_reads.id)))
    """,
    """
    UPDATE v4_alerts SET previous_pair_alert_at = (
        SELECT max(x.created_at) FROM v4_alerts AS x
        WHERE x.report_id = v4_alerts.report_id AND x.user_number = v4_alerts.user_number
          AND (x.created_at < v4_alerts.created_at
               OR (x.created_at = v4_alerts.created_at AND x.id < v4_alerts.id)))
    """,
]

_TRIGGERS = ("v4_report_reads_previous", "v4_alerts_previous", "v4_alerts_previous_deleted")


def _dialect() -> str:
    return op.get_bind().dialect.name


def upgrade() -> None:
    timestamp = tallybook.kit.db.UTCDateTime(timezone=True)
    for table, column in _NEW_COLUMNS:
        op.add_column(table, sa.Column(column, timestamp, nullable=True))
    for table, name, _columns in _OLD_INDEXES:
        op.drop_index(name, table_name=table)
    for table, name, columns in _NEW_INDEXES:
        op.create_index(name, table, columns)
    for statement in _BACKFILL:
        op.execute(statement)
    if _dialect() == "postgresql":
        op.execute(_POSTGRESQL_READS)
        op.execute(_POSTGRESQL_ALERTS)
    else:
        for trigger in (_SQLITE_READS, _SQLITE_ALERTS, _SQLITE_ALERTS_DELETED):
            op.execute(trigger)


# (table, index, columns) made by this revision, and those of 0005 it replaces.
_NEW_INDEXES = [
    (
        "v4_report_reads",
        "ix_v4_report_reads_channel_created_previous",
        ["channel_id", "created_at", "previous_pair_read_at", "previous_report_read_at"],
    ),
    (
        "v4_report_reads",
        "ix_v4_report_reads_channel_user_created",
        ["channel_id", "user_number", "created_at"],
    ),
    (
        "v4_alerts",
        "ix_v4_alerts_channel_user_created",
        ["channel_id", "user_number", "created_at", "previous_pair_alert_at", "read"],
    ),
    (
        "v4_reports",
        "ix_v4_reports_channel_state_created",
        ["channel_id", "report_state_id", "created_at"],
    ),
    (
        "v4_reports",
        "ix_v4_reports_channel_user_created",
        ["channel_id", "user_number", "is_anonymous", "created_at"],
    ),
    (
        "v4_report_selections",
        "ix_v4_report_selections_channel_option_created",
        ["channel_id", "option_id", "created_at"],
    ),
]
_OLD_INDEXES = [
    (
        "v4_report_reads",
        "ix_v4_report_reads_channel_created",
        ["channel_id", "created_at", "user_number", "report_id"],
    ),
    (
        "v4_alerts",
        "ix_v4_alerts_channel_created",
        ["channel_id", "created_at", "user_number", "report_id"],
    ),
    (
        "v4_report_selections",
        "ix_v4_report_selections_field_channel_created",
        ["field_id", "channel_id", "created_at", "option_id"],
    ),
]
_NEW_COLUMNS = [
    ("v4_report_reads", "previous_pair_read_at"),
    ("v4_report_reads", "previous_report_read_at"),
    ("v4_alerts", "previous_pair_alert_at"),
]


def downgrade() -> None:
    # Each step checks what is there: SQLite runs DDL outside the transaction, so a
    # downgrade that failed further down (0004 may refuse) is run again from here.
    postgresql = _dialect() == "postgresql"
    for trigger, table in zip(
        _TRIGGERS, ("v4_report_reads", "v4_alerts", "v4_alerts"), strict=True
    ):
        op.execute(f"DROP TRIGGER IF EXISTS {trigger}" + (f" ON {table}" if postgresql else ""))
        if postgresql:
            op.execute(f"DROP FUNCTION IF EXISTS {trigger}()")
    for table, name, _columns in _NEW_INDEXES:
        op.drop_index(name, table_name=table, if_exists=True)
    for table, name, columns in _OLD_INDEXES:
        op.create_index(name, table, columns, if_not_exists=True)
    inspector = sa.inspect(op.get_bind())
    for table, column in _NEW_COLUMNS:
        if column in {c["name"] for c in inspector.get_columns(table)}:
            # Not a batch copy of the table: SQLite drops an unindexed column in place.
            op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
