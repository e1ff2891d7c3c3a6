"""files: thumbnails and malware-scan state on chat_files

Revision ID: 0004
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("chat_files", schema=None) as batch_op:
        batch_op.add_column(sa.Column("thumbnail_key", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("thumbnail_key_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("thumbnail_size", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("scanned_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("scan_result", sa.String(length=200), nullable=True))
        batch_op.create_index(batch_op.f("ix_chat_files_status"), ["status"], unique=False)
        batch_op.create_check_constraint(
            op.f("ck_chat_files_status_allowed"), "status IN ('PENDING', 'CLEAN', 'INFECTED')"
        )


def downgrade() -> None:
    with op.batch_alter_table("chat_files", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_chat_files_status_allowed"), type_="check")
        batch_op.drop_index(batch_op.f("ix_chat_files_status"))
        batch_op.drop_column("scan_result")
        batch_op.drop_column("scanned_at")
        batch_op.drop_column("thumbnail_size")
        batch_op.drop_column("thumbnail_key_id")
        batch_op.drop_column("thumbnail_key")
