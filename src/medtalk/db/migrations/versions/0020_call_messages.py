"""call messages: chat_messages.content_type may be CALL (missed and finished video calls)

Revision ID: 0020_call_messages
Revises: 0001
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0020_call_messages"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME = "ck_chat_messages_content_type_allowed"
BEFORE = "content_type IN ('TEXT', 'IMAGE', 'FILE', 'AUDIO', 'VIDEO')"
AFTER = "content_type IN ('TEXT', 'IMAGE', 'FILE', 'AUDIO', 'VIDEO', 'CALL')"


def _replace(condition: str) -> None:
    # SQLite cannot alter a constraint: batch mode rebuilds the table (env.py render_as_batch).
    with op.batch_alter_table("chat_messages", schema=None) as batch_op:
        batch_op.drop_constraint(op.f(NAME), type_="check")
        batch_op.create_check_constraint(op.f(NAME), condition)


def upgrade() -> None:
    _replace(AFTER)


def downgrade() -> None:
    op.execute("DELETE FROM chat_messages WHERE content_type = 'CALL'")
    _replace(BEFORE)
