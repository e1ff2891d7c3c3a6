"""recording: consented call recordings and their uploaded chunks

Revision ID: 0006
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATUSES = "'REQUESTED', 'DECLINED', 'RECORDING', 'STOPPED', 'ASSEMBLING', 'READY', 'FAILED'"


def upgrade() -> None:
    op.create_table(
        "call_recordings",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("room_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("requested_by", sa.Uuid(), nullable=False),
        sa.Column("requested_at", sa.DateTime(), nullable=False),
        sa.Column("consented_by", sa.Uuid(), nullable=True),
        sa.Column("consent_at", sa.DateTime(), nullable=True),
        sa.Column("declined_at", sa.DateTime(), nullable=True),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("stopped_at", sa.DateTime(), nullable=True),
        sa.Column("stopped_by", sa.Uuid(), nullable=True),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("storage_key", sa.String(length=200), nullable=True),
        sa.Column("key_id", sa.String(length=64), nullable=True),
        sa.Column("mime_type", sa.String(length=100), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("duration_seconds", sa.Float(), nullable=True),
        sa.Column("ready_at", sa.DateTime(), nullable=True),
        sa.Column("failure", sa.String(length=200), nullable=True),
        sa.CheckConstraint(
            f"status IN ({STATUSES})", name=op.f("ck_call_recordings_status_allowed")
        ),
        sa.CheckConstraint(
            "source IN ('browser', 'jibri')", name=op.f("ck_call_recordings_source_allowed")
        ),
        sa.ForeignKeyConstraint(
            ["room_id"],
            ["video_call_rooms.id"],
            name=op.f("fk_call_recordings_room_id_video_call_rooms"),
        ),
        sa.ForeignKeyConstraint(
            ["requested_by"], ["users.id"], name=op.f("fk_call_recordings_requested_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["consented_by"], ["users.id"], name=op.f("fk_call_recordings_consented_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["stopped_by"], ["users.id"], name=op.f("fk_call_recordings_stopped_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_recordings")),
        sa.UniqueConstraint("storage_key", name=op.f("uq_call_recordings_storage_key")),
    )
    op.create_index(
        "idx_call_recordings_room", "call_recordings", ["room_id", "requested_at"], unique=False
    )
    op.create_index(
        "idx_call_recordings_status",
        "call_recordings",
        ["status", "next_attempt_at"],
        unique=False,
    )
    op.create_table(
        "call_recording_chunks",
        sa.Column("recording_id", sa.Uuid(), nullable=False),
        sa.Column("chunk_index", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("storage_key", sa.String(length=200), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=True),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["recording_id"],
            ["call_recordings.id"],
            name=op.f("fk_call_recording_chunks_recording_id_call_recordings"),
        ),
        sa.PrimaryKeyConstraint(
            "recording_id", "chunk_index", name=op.f("pk_call_recording_chunks")
        ),
        sa.UniqueConstraint("storage_key", name=op.f("uq_call_recording_chunks_storage_key")),
    )


def downgrade() -> None:
    op.drop_table("call_recording_chunks")
    op.drop_index("idx_call_recordings_status", table_name="call_recordings")
    op.drop_index("idx_call_recordings_room", table_name="call_recordings")
    op.drop_table("call_recordings")
