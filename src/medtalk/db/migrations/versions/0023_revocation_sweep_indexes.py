"""revocation sweep indexes: what was revoked since a time, read by every node each sweep

Revision ID: 0023_revocation_sweep_indexes
Revises: 0005
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0023_revocation_sweep_indexes"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # realtime/events.py's sweep asks for rows at or after a time, every 15 s on every node:
    # without these, two full scans of tables that grow with logouts and users.
    op.create_index(op.f("ix_revoked_tokens_revoked_at"), "revoked_tokens", ["revoked_at"])
    op.create_index(op.f("ix_token_cutoffs_not_before"), "token_cutoffs", ["not_before"])


def downgrade() -> None:
    op.drop_index(op.f("ix_token_cutoffs_not_before"), table_name="token_cutoffs")
    op.drop_index(op.f("ix_revoked_tokens_revoked_at"), table_name="revoked_tokens")
