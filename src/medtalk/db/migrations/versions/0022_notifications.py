"""notifications: push subscriptions, preferences, email digests, escalations (issue 18)

Revision ID: 0022_notifications
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022_notifications"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNREAD_PATIENT = sa.text("is_read = false AND sender_type = 'PATIENT'")


def upgrade() -> None:
    op.create_table(
        "push_subscriptions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("endpoint", sa.String(length=1000), nullable=False),
        sa.Column("p256dh", sa.String(length=200), nullable=False),
        sa.Column("auth", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_push_subscriptions_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_push_subscriptions")),
        sa.UniqueConstraint("endpoint", name=op.f("uq_push_subscriptions_endpoint")),
    )
    op.create_index(
        op.f("ix_push_subscriptions_user_id"), "push_subscriptions", ["user_id"], unique=False
    )
    op.create_table(
        "notification_preferences",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("push", sa.Boolean(), nullable=False),
        sa.Column("email_digest", sa.Boolean(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("quiet_start", sa.String(length=5), nullable=True),
        sa.Column("quiet_end", sa.String(length=5), nullable=True),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_notification_preferences_user_id_users")
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_notification_preferences")),
    )
    op.create_table(
        "email_digests",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_email_digests_user_id_users")
        ),
        sa.PrimaryKeyConstraint("user_id", "due_at", name=op.f("pk_email_digests")),
    )
    op.create_table(
        "notification_escalations",
        sa.Column("message_id", sa.Uuid(), nullable=False),
        sa.Column("threshold_minutes", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("conversation_id", sa.Uuid(), nullable=False),
        sa.Column("escalated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_notification_escalations_conversation_id_conversations"),
        ),
        sa.PrimaryKeyConstraint(
            "message_id", "threshold_minutes", name=op.f("pk_notification_escalations")
        ),
    )
    op.create_index(
        "idx_messages_unread_patient",
        "chat_messages",
        ["sent_at"],
        sqlite_where=UNREAD_PATIENT,
        postgresql_where=UNREAD_PATIENT,
    )


def downgrade() -> None:
    op.drop_index("idx_messages_unread_patient", table_name="chat_messages")
    op.drop_table("notification_escalations")
    op.drop_table("email_digests")
    op.drop_table("notification_preferences")
    op.drop_index(op.f("ix_push_subscriptions_user_id"), table_name="push_subscriptions")
    op.drop_table("push_subscriptions")
