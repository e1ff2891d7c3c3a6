"""chat core tables

Revision ID: 0001
Revises:
The spec's tables (conversations, chat_messages, video_call_rooms)
plus users, appointments and chat_files.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "users",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=10), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "role IN ('PATIENT', 'DOCTOR', 'ADMIN')", name=op.f("ck_users_role_allowed")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
    )
    op.create_table(
        "appointments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("doctor_id", sa.Uuid(), nullable=False),
        sa.Column("scheduled_time", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["doctor_id"], ["users.id"], name=op.f("fk_appointments_doctor_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["users.id"], name=op.f("fk_appointments_patient_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appointments")),
    )
    op.create_table(
        "conversations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("doctor_id", sa.Uuid(), nullable=False),
        sa.Column("appointment_id", sa.Uuid(), nullable=True),
        sa.Column("status", sa.String(length=20), server_default="ACTIVE", nullable=False),
        sa.Column("last_message_at", sa.DateTime(), nullable=True),
        sa.Column("last_seq", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "status IN ('ACTIVE', 'ARCHIVED', 'CLOSED')",
            name=op.f("ck_conversations_status_allowed"),
        ),
        sa.ForeignKeyConstraint(
            ["appointment_id"],
            ["appointments.id"],
            name=op.f("fk_conversations_appointment_id_appointments"),
        ),
        sa.ForeignKeyConstraint(
            ["doctor_id"], ["users.id"], name=op.f("fk_conversations_doctor_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_conversations_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversations")),
    )
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_conversations_doctor_id"), ["doctor_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_conversations_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_conversations_user_id"), ["user_id"], unique=False)

    op.create_table(
        "chat_files",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("conversation_id", sa.Uuid(), nullable=False),
        sa.Column("uploader_id", sa.Uuid(), nullable=False),
        sa.Column("storage_key", sa.String(length=200), nullable=False),
        sa.Column("mime_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=20), server_default="CLEAN", nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_chat_files_conversation_id_conversations"),
        ),
        sa.ForeignKeyConstraint(
            ["uploader_id"], ["users.id"], name=op.f("fk_chat_files_uploader_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_files")),
        sa.UniqueConstraint("storage_key", name=op.f("uq_chat_files_storage_key")),
    )
    op.create_table(
        "chat_messages",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("conversation_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("sender_id", sa.Uuid(), nullable=False),
        sa.Column("sender_type", sa.String(length=10), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("content_type", sa.String(length=20), server_default="TEXT", nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=True),
        sa.Column("file_size", sa.BigInteger(), nullable=True),
        sa.Column("file_id", sa.Uuid(), nullable=True),
        sa.Column("client_message_id", sa.String(length=100), nullable=True),
        sa.Column("is_read", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("read_at", sa.DateTime(), nullable=True),
        sa.Column("sent_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "content_type IN ('TEXT', 'IMAGE', 'FILE', 'AUDIO', 'VIDEO')",
            name=op.f("ck_chat_messages_content_type_allowed"),
        ),
        sa.CheckConstraint(
            "sender_type IN ('PATIENT', 'DOCTOR')",
            name=op.f("ck_chat_messages_sender_type_allowed"),
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_chat_messages_conversation_id_conversations"),
        ),
        sa.ForeignKeyConstraint(
            ["sender_id"], ["users.id"], name=op.f("fk_chat_messages_sender_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_messages")),
        sa.UniqueConstraint(
            "conversation_id", "sender_id", "client_message_id", name="uq_chat_messages_client_id"
        ),
        sa.UniqueConstraint("conversation_id", "seq", name="uq_chat_messages_conversation_seq"),
    )
    with op.batch_alter_table("chat_messages", schema=None) as batch_op:
        batch_op.create_index(
            "idx_messages_conversation_sent_at", ["conversation_id", "sent_at"], unique=False
        )
        batch_op.create_index("idx_messages_unread", ["conversation_id", "is_read"], unique=False)

    op.create_table(
        "video_call_rooms",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("room_name", sa.String(length=100), nullable=False),
        sa.Column("appointment_id", sa.Uuid(), nullable=True),
        sa.Column("conversation_id", sa.Uuid(), nullable=True),
        sa.Column("host_id", sa.Uuid(), nullable=False),
        sa.Column("guest_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=20), server_default="WAITING", nullable=False),
        sa.Column("scheduled_time", sa.DateTime(), nullable=True),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.Column("duration", sa.Integer(), nullable=True),
        sa.Column("recording_url", sa.String(length=500), nullable=True),
        sa.Column("has_recording", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "status IN ('WAITING', 'IN_PROGRESS', 'ENDED', 'CANCELLED')",
            name=op.f("ck_video_call_rooms_status_allowed"),
        ),
        sa.ForeignKeyConstraint(
            ["appointment_id"],
            ["appointments.id"],
            name=op.f("fk_video_call_rooms_appointment_id_appointments"),
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_video_call_rooms_conversation_id_conversations"),
        ),
        sa.ForeignKeyConstraint(
            ["guest_id"], ["users.id"], name=op.f("fk_video_call_rooms_guest_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["host_id"], ["users.id"], name=op.f("fk_video_call_rooms_host_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_video_call_rooms")),
        sa.UniqueConstraint("room_name", name=op.f("uq_video_call_rooms_room_name")),
    )
    with op.batch_alter_table("video_call_rooms", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_video_call_rooms_guest_id"), ["guest_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_video_call_rooms_host_id"), ["host_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_video_call_rooms_status"), ["status"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("video_call_rooms", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_video_call_rooms_status"))
        batch_op.drop_index(batch_op.f("ix_video_call_rooms_host_id"))
        batch_op.drop_index(batch_op.f("ix_video_call_rooms_guest_id"))

    op.drop_table("video_call_rooms")
    with op.batch_alter_table("chat_messages", schema=None) as batch_op:
        batch_op.drop_index("idx_messages_unread")
        batch_op.drop_index("idx_messages_conversation_sent_at")

    op.drop_table("chat_messages")
    op.drop_table("chat_files")
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_conversations_user_id"))
        batch_op.drop_index(batch_op.f("ix_conversations_status"))
        batch_op.drop_index(batch_op.f("ix_conversations_doctor_id"))

    op.drop_table("conversations")
    op.drop_table("appointments")
    op.drop_table("users")
