"""video calls: room provider/limits/expiry, call participants, call stats

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("video_call_rooms", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("provider", sa.String(length=20), server_default="p2p", nullable=False)
        )
        batch_op.add_column(sa.Column("planned_duration", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("max_duration_seconds", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("opens_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("expires_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("end_reason", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("ended_by", sa.Uuid(), nullable=True))
        batch_op.create_index(
            "idx_video_rooms_host_created", ["host_id", "created_at"], unique=False
        )

    op.create_table(
        "call_participants",
        sa.Column("room_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("role", sa.String(length=10), nullable=False),
        sa.Column("joined_at", sa.DateTime(), nullable=False),
        sa.Column("left_at", sa.DateTime(), nullable=True),
        sa.Column("is_video_on", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("is_audio_on", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("browser", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["room_id"],
            ["video_call_rooms.id"],
            name=op.f("fk_call_participants_room_id_video_call_rooms"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_call_participants_user_id_users")
        ),
        sa.PrimaryKeyConstraint("room_id", "user_id", name=op.f("pk_call_participants")),
    )
    op.create_table(
        "call_stats",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("room_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("reported_at", sa.DateTime(), nullable=False),
        sa.Column("bitrate_kbps", sa.Float(), nullable=False),
        sa.Column("packet_loss_pct", sa.Float(), nullable=False),
        sa.Column("rtt_ms", sa.Float(), nullable=False),
        sa.Column("frames_per_second", sa.Float(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("quality_score", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["room_id"],
            ["video_call_rooms.id"],
            name=op.f("fk_call_stats_room_id_video_call_rooms"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_call_stats_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_stats")),
    )
    with op.batch_alter_table("call_stats", schema=None) as batch_op:
        batch_op.create_index("idx_call_stats_room", ["room_id", "reported_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("call_stats", schema=None) as batch_op:
        batch_op.drop_index("idx_call_stats_room")
    op.drop_table("call_stats")
    op.drop_table("call_participants")
    with op.batch_alter_table("video_call_rooms", schema=None) as batch_op:
        batch_op.drop_index("idx_video_rooms_host_created")
        batch_op.drop_column("ended_by")
        batch_op.drop_column("end_reason")
        batch_op.drop_column("expires_at")
        batch_op.drop_column("opens_at")
        batch_op.drop_column("max_duration_seconds")
        batch_op.drop_column("planned_duration")
        batch_op.drop_column("provider")
