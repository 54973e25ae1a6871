"""SaferMe API v4 tables (DESIGN §9)

Teams (the integer id of an organisation), forms with their fields and options, channels,
report states, reports with their option selections and images, file attachments, reads
and alerts. The rows the analytics count carry their report's channel (and, where the
count is by report time, its ``created_at``), so each analytics question is a range scan
of one ``(channel_id, created_at, …)`` index.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 02:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import tallybook.kit.db

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "v4_forms",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("uuid", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", tallybook.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", tallybook.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_v4_forms_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_v4_forms")),
        sa.UniqueConstraint("uuid", name=op.f("uq_v4_forms_uuid")),
    )
    with op.batch_alter_table("v4_forms", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_v4_forms_organization_id_id"), ["organization_id", "id"], unique=False
        )

    op.create_table(
        "v4_teams",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", tallybook.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_v4_teams_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_v4_teams")),
        sa.UniqueConstraint("organization_id", name=op.f("uq_v4_teams_organization_id")),
    )
    op.create_table(
        "v4_channels",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("uuid", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("form_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("created_at", tallybook.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", tallybook.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["form_id"], ["v4_forms.id"], name=op.f("fk_v4_channels_form_id_v4_forms")
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_v4_channels_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_v4_channels")),
        sa.UniqueConstraint("uuid", name=op.f("uq_v4_channels_uuid")),
    )
    with op.batch_alter_table("v4_channels", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_v4_channels_organization_id_name_id"),
            ["organization_id", "name", "id"],
            unique=False,
        )

    op.create_table(
        "v4_file_attachments",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("user_number", sa.Integer(), nullable=True),
        sa.Column("filename", sa.String(length=255), nullable=True),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("extension", sa.String(length=8), nullable=False),
        sa.Column("rendition_type", sa.String(length=100), nullable=False),
        sa.Column("rendition_extension", sa.String(length=8), nullable=False),
        sa.Column("byte_size", sa.Integer(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("created_at", tallybook.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_v4_file_attachments_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_number"],
            ["users.number"],
            name=op.f("fk_v4_file_attachments_user_number_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_v4_file_attachments")),
    )
    with op.batch_alter_table("v4_file_attachments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_v4_file_attachments_organization_id_id"),
            ["organization_id", "id"],
            unique=False,
        )

    op.create_table(
        "v4_form_fields",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("form_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("field_type", sa.String(length=32), nullable=False),
        sa.Column("form_order", sa.Integer(), nullable=False),
        sa.Column("mandatory", sa.Boolean(), nullable=False),
        sa.Column("multi_select", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["form_id"],
            ["v4_forms.id"],
            name=op.f("fk_v4_form_fields_form_id_v4_forms"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_v4_form_fields_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_v4_form_fields")),
        sa.UniqueConstraint("key", name=op.f("uq_v4_form_fields_key")),
    )
    with op.batch_alter_table("v4_form_fields", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_v4_form_fields_form_id_form_order"),
            ["form_id", "form_order"],
            unique=False,
        )

    op.create_table(
        "v4_field_options",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("field_id", sa.Integer(), nullable=False),
        sa.Column("value", sa.String(length=150), nullable=False),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("display_order", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["field_id"],
            ["v4_form_fields.id"],
            name=op.f("fk_v4_field_options_field_id_v4_form_fields"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_v4_field_options")),
        sa.UniqueConstraint("value", name=op.f("uq_v4_field_options_value")),
    )
    with op.batch_alter_table("v4_field_options", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_v4_field_options_field_id_display_order"),
            ["field_id", "display_order"],
            unique=False,
        )

    op.create_table(
        "v4_report_states",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("created_at", tallybook.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", tallybook.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["channel_id"],
            ["v4_channels.id"],
            name=op.f("fk_v4_report_states_channel_id_v4_channels"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_v4_report_states_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_v4_report_states")),
    )
    with op.batch_alter_table("v4_report_states", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_v4_report_states_channel_id_position_id"),
            ["channel_id", "position", "id"],
            unique=False,
        )

    op.create_table(
        "v4_reports",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("uuid", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("report_state_id", sa.Integer(), nullable=True),
        sa.Column("user_number", sa.Integer(), nullable=True),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("is_anonymous", sa.Boolean(), nullable=False),
        sa.Column(
            "form_values",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", tallybook.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", tallybook.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["channel_id"],
            ["v4_channels.id"],
            name=op.f("fk_v4_reports_channel_id_v4_channels"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_v4_reports_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["report_state_id"],
            ["v4_report_states.id"],
            name=op.f("fk_v4_reports_report_state_id_v4_report_states"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_number"],
            ["users.number"],
            name=op.f("fk_v4_reports_user_number_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_v4_reports")),
        sa.UniqueConstraint(
            "organization_id", "uuid", name=op.f("uq_v4_reports_organization_id_uuid")
        ),
    )
    with op.batch_alter_table("v4_reports", schema=None) as batch_op:
        batch_op.create_index(
            "ix_v4_reports_channel_created",
            ["channel_id", "created_at", "report_state_id", "user_number"],
            unique=False,
        )

    op.create_table(
        "v4_alerts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("user_number", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("read", sa.Boolean(), nullable=False),
        sa.Column("read_at", tallybook.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("archived", sa.Boolean(), nullable=False),
        sa.Column("archived_at", tallybook.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", tallybook.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", tallybook.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["channel_id"],
            ["v4_channels.id"],
            name=op.f("fk_v4_alerts_channel_id_v4_channels"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_v4_alerts_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["v4_reports.id"],
            name=op.f("fk_v4_alerts_report_id_v4_reports"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_number"],
            ["users.number"],
            name=op.f("fk_v4_alerts_user_number_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_v4_alerts")),
    )
    with op.batch_alter_table("v4_alerts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_v4_alerts_channel_created",
            ["channel_id", "created_at", "user_number", "report_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_v4_alerts_report_id_created_at"),
            ["report_id", "created_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_v4_alerts_user_number_created_at_id"),
            ["user_number", "created_at", "id"],
            unique=False,
        )

    op.create_table(
        "v4_report_images",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("field_id", sa.Integer(), nullable=False),
        sa.Column("attachment_id", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("created_at", tallybook.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["attachment_id"],
            ["v4_file_attachments.id"],
            name=op.f("fk_v4_report_images_attachment_id_v4_file_attachments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["channel_id"],
            ["v4_channels.id"],
            name=op.f("fk_v4_report_images_channel_id_v4_channels"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["field_id"],
            ["v4_form_fields.id"],
            name=op.f("fk_v4_report_images_field_id_v4_form_fields"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_v4_report_images_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["v4_reports.id"],
            name=op.f("fk_v4_report_images_report_id_v4_reports"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_v4_report_images")),
        sa.UniqueConstraint("attachment_id", name=op.f("uq_v4_report_images_attachment_id")),
    )
    with op.batch_alter_table("v4_report_images", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_v4_report_images_channel_id_created_at"),
            ["channel_id", "created_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_v4_report_images_report_id"), ["report_id"], unique=False
        )

    op.create_table(
        "v4_report_reads",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("user_number", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("created_at", tallybook.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["channel_id"],
            ["v4_channels.id"],
            name=op.f("fk_v4_report_reads_channel_id_v4_channels"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_v4_report_reads_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["v4_reports.id"],
            name=op.f("fk_v4_report_reads_report_id_v4_reports"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_number"],
            ["users.number"],
            name=op.f("fk_v4_report_reads_user_number_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_v4_report_reads")),
    )
    with op.batch_alter_table("v4_report_reads", schema=None) as batch_op:
        batch_op.create_index(
            "ix_v4_report_reads_channel_created",
            ["channel_id", "created_at", "user_number", "report_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_v4_report_reads_report_id_created_at"),
            ["report_id", "created_at"],
            unique=False,
        )

    op.create_table(
        "v4_report_selections",
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("option_id", sa.Integer(), nullable=False),
        sa.Column("field_id", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("created_at", tallybook.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["channel_id"],
            ["v4_channels.id"],
            name=op.f("fk_v4_report_selections_channel_id_v4_channels"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["field_id"],
            ["v4_form_fields.id"],
            name=op.f("fk_v4_report_selections_field_id_v4_form_fields"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["option_id"],
            ["v4_field_options.id"],
            name=op.f("fk_v4_report_selections_option_id_v4_field_options"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["v4_reports.id"],
            name=op.f("fk_v4_report_selections_report_id_v4_reports"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("report_id", "option_id", name=op.f("pk_v4_report_selections")),
    )
    with op.batch_alter_table("v4_report_selections", schema=None) as batch_op:
        batch_op.create_index(
            "ix_v4_report_selections_field_channel_created",
            ["field_id", "channel_id", "created_at", "option_id"],
            unique=False,
        )


def downgrade() -> None:
    # Dropping a table drops its indexes. ``if_exists``: SQLite's driver runs DDL outside
    # the transaction, so a downgrade that fails further down (0004 refuses when chat ids
    # are shared) leaves these tables dropped while the version stays 0005; the next
    # attempt then simply goes on.
    for table in (
        "v4_report_selections",
        "v4_report_reads",
        "v4_report_images",
        "v4_alerts",
        "v4_reports",
        "v4_report_states",
        "v4_field_options",
        "v4_form_fields",
        "v4_file_attachments",
        "v4_channels",
        "v4_teams",
        "v4_forms",
    ):
        op.drop_table(table, if_exists=True)
