"""chat ids unique per organisation, not globally

A client may choose a chat's id; as one global key, an id taken in one organisation was
refused in every other, which told them it existed. The id is now unique per
organisation, and the row gets its own key ``pk`` (existing chats keep their id as their
``pk``). Messages refer to ``(organization_id, id)``; the BAR notification setting refers
to ``pk`` (``chat_pk``, replacing ``channel_id``) so that deleting the chat can still
clear only that column.

On SQLite the tables are copied (batch mode): the caller runs this with foreign keys off
(``kit.migrate.upgrade`` does), or dropping the old ``chats`` would delete the messages.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 00:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    _refuse_foreign_keys_on_sqlite()
    # Nothing may refer to chats.id alone once it is no longer unique: unhook both first.
    with op.batch_alter_table("notification_settings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("chat_pk", sa.Uuid(), nullable=True))
    op.execute("UPDATE notification_settings SET chat_pk = channel_id")
    with op.batch_alter_table("notification_settings", schema=None) as batch_op:
        batch_op.drop_constraint("fk_notification_settings_channel_id_chats", type_="foreignkey")
        batch_op.drop_column("channel_id")
    with op.batch_alter_table("chat_messages", schema=None) as batch_op:
        batch_op.drop_constraint("fk_chat_messages_chat_id_chats", type_="foreignkey")

    with op.batch_alter_table("chats", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pk", sa.Uuid(), nullable=True))
    op.execute("UPDATE chats SET pk = id")
    with op.batch_alter_table("chats", schema=None) as batch_op:
        batch_op.alter_column("pk", existing_type=sa.Uuid(), nullable=False)
        batch_op.drop_constraint("pk_chats", type_="primary")
        batch_op.create_primary_key("pk_chats", ["pk"])
        batch_op.create_unique_constraint("uq_chats_organization_id_id", ["organization_id", "id"])

    with op.batch_alter_table("chat_messages", schema=None) as batch_op:
        batch_op.create_foreign_key(
            "fk_chat_messages_organization_id_chats",
            "chats",
            ["organization_id", "chat_id"],
            ["organization_id", "id"],
            ondelete="CASCADE",
        )
    with op.batch_alter_table("notification_settings", schema=None) as batch_op:
        batch_op.create_foreign_key(
            "fk_notification_settings_chat_pk_chats",
            "chats",
            ["chat_pk"],
            ["pk"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    _refuse_foreign_keys_on_sqlite()
    _refuse_shared_ids()
    with op.batch_alter_table("notification_settings", schema=None) as batch_op:
        batch_op.drop_constraint("fk_notification_settings_chat_pk_chats", type_="foreignkey")
        batch_op.add_column(sa.Column("channel_id", sa.Uuid(), nullable=True))
    op.execute(
        "UPDATE notification_settings SET channel_id = "
        "(SELECT chats.id FROM chats WHERE chats.pk = notification_settings.chat_pk)"
    )
    with op.batch_alter_table("notification_settings", schema=None) as batch_op:
        batch_op.drop_column("chat_pk")
    with op.batch_alter_table("chat_messages", schema=None) as batch_op:
        batch_op.drop_constraint("fk_chat_messages_organization_id_chats", type_="foreignkey")

    with op.batch_alter_table("chats", schema=None) as batch_op:
        batch_op.drop_constraint("uq_chats_organization_id_id", type_="unique")
        batch_op.drop_constraint("pk_chats", type_="primary")
        batch_op.create_primary_key("pk_chats", ["id"])
        batch_op.drop_column("pk")

    with op.batch_alter_table("chat_messages", schema=None) as batch_op:
        batch_op.create_foreign_key(
            "fk_chat_messages_chat_id_chats",
            "chats",
            ["chat_id"],
            ["id"],
            ondelete="CASCADE",
        )
    with op.batch_alter_table("notification_settings", schema=None) as batch_op:
        batch_op.create_foreign_key(
            "fk_notification_settings_channel_id_chats",
            "chats",
            ["channel_id"],
            ["id"],
            ondelete="SET NULL",
        )


def _refuse_foreign_keys_on_sqlite() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite" and bind.exec_driver_sql("PRAGMA foreign_keys").scalar():
        raise RuntimeError(
            "Revision 0004 copies the chats table, which SQLite does only with foreign keys "
            "off (or the chats' messages would be deleted): run it with `tallybook migrate`, "
            "or with PRAGMA foreign_keys=OFF set before the migration's transaction."
        )


def _refuse_shared_ids() -> None:
    shared = op.get_bind().scalar(
        sa.text("SELECT COUNT(*) FROM (SELECT id FROM chats GROUP BY id HAVING COUNT(*) > 1) AS s")
    )
    if shared:
        raise RuntimeError(
            f"Cannot downgrade below 0004: {shared} chat id(s) are used by more than one "
            "organisation, and before 0004 a chat id is unique across all of them. Give "
            "those chats other ids (or delete them) first; nothing was changed."
        )
