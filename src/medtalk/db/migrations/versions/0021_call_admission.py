"""call admission: call_participants.admitted_at (the waiting room, issue 17)

Revision ID: 0021_call_admission
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021_call_admission"
# After 0002, which creates call_participants.
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("call_participants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("admitted_at", sa.DateTime(), nullable=True))
    # Whoever was in a call before the waiting room existed was in it: admitted.
    op.execute("UPDATE call_participants SET admitted_at = joined_at")


def downgrade() -> None:
    with op.batch_alter_table("call_participants", schema=None) as batch_op:
        batch_op.drop_column("admitted_at")
