"""ids never reused on SQLite

The tables whose integer ids clients keep (v4's channels, forms, states, reports, images,
reads, alerts; users' numbers, v4's user_id) get an ``AUTOINCREMENT`` key on SQLite, which
without it hands the highest id out again once its row is deleted: a client's saved
``channel_id`` would then count another channel. SQLite cannot change a key in place, so
each table is copied (Alembic's batch mode; foreign keys are checked at the end of the
run, ``kit.migrate``), and its triggers made again. PostgreSQL's sequences never reuse
an id: nothing changes there.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 08:20:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = (
    "users",
    "v4_teams",
    "v4_forms",
    "v4_form_fields",
    "v4_field_options",
    "v4_channels",
    "v4_report_states",
    "v4_reports",
    "v4_file_attachments",
    "v4_report_images",
    "v4_report_reads",
    "v4_alerts",
)


def upgrade() -> None:
    _rebuild(autoincrement=True)


def downgrade() -> None:
    _rebuild(autoincrement=False)


def _rebuild(*, autoincrement: bool) -> None:
    connection = op.get_bind()
    if connection.dialect.name != "sqlite":
        return
    for table in TABLES:
        # Dropping the old copy drops its triggers (0006's on reads and alerts): made again.
        triggers = connection.exec_driver_sql(
            "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ?", (table,)
        ).fetchall()
        with op.batch_alter_table(
            table, recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}
        ):
            pass
        for (sql,) in triggers:
            connection.exec_driver_sql(sql)
