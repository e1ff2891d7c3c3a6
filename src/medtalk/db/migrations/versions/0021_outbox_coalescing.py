"""outbox coalescing: one pending job per coalesce key, and when each chat was last notified

Revision ID: 0021_outbox_coalescing
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021_outbox_coalescing"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("coalesce_key", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("revision", sa.Integer(), server_default="0", nullable=False))
    op.create_index(
        "uq_outbox_pending_coalesce_key",
        "outbox",
        ["coalesce_key"],
        unique=True,
        postgresql_where=sa.text("status = 'PENDING'"),
        sqlite_where=sa.text("status = 'PENDING'"),
    )
    op.create_table(
        "notification_marks",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("conversation_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("notified_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_notification_marks_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_notification_marks_conversation_id_conversations"),
        ),
        sa.PrimaryKeyConstraint("user_id", "conversation_id", name=op.f("pk_notification_marks")),
    )


def downgrade() -> None:
    op.drop_table("notification_marks")
    op.drop_index("uq_outbox_pending_coalesce_key", table_name="outbox")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("revision")
        batch.drop_column("coalesce_key")
