"""legal hold: ADMIN holds on conversations that retention must keep

Revision ID: 0019_legal_holds
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019_legal_holds"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "legal_holds",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("conversation_id", sa.Uuid(), nullable=False),
        sa.Column("reason", sa.String(length=300), nullable=False),
        sa.Column("placed_by", sa.Uuid(), nullable=False),
        sa.Column("placed_at", sa.DateTime(), nullable=False),
        sa.Column("lifted_by", sa.Uuid(), nullable=True),
        sa.Column("lifted_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_legal_holds_conversation_id_conversations"),
        ),
        sa.ForeignKeyConstraint(
            ["placed_by"], ["users.id"], name=op.f("fk_legal_holds_placed_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["lifted_by"], ["users.id"], name=op.f("fk_legal_holds_lifted_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_legal_holds")),
    )
    op.create_index("idx_legal_holds_conversation", "legal_holds", ["conversation_id", "lifted_at"])


def downgrade() -> None:
    op.drop_index("idx_legal_holds_conversation", table_name="legal_holds")
    op.drop_table("legal_holds")
