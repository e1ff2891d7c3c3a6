"""Table definitions (SQLAlchemy Core), shared by the stores and the migrations' autogenerate."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Stored as naive UTC (the spec's TIMESTAMP), always handed back timezone-aware."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if not isinstance(value, datetime):
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _enum_check(column: str, values: tuple[str, ...]) -> sa.CheckConstraint:
    allowed = ", ".join(f"'{value}'" for value in values)
    return sa.CheckConstraint(f"{column} IN ({allowed})", name=f"{column}_allowed")


ROLES = ("PATIENT", "DOCTOR", "ADMIN")
CONVERSATION_STATUSES = ("ACTIVE", "ARCHIVED", "CLOSED")
SENDER_TYPES = ("PATIENT", "DOCTOR")
CONTENT_TYPES = ("TEXT", "IMAGE", "FILE", "AUDIO", "VIDEO", "CALL")  # CALL: issue 17
ROOM_STATUSES = ("WAITING", "IN_PROGRESS", "ENDED", "CANCELLED")
FILE_STATUSES = ("PENDING", "CLEAN", "INFECTED")  # files (issue 4)

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("role", sa.String(10), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    _enum_check("role", ROLES),
)

appointments = sa.Table(
    "appointments",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("patient_id", sa.Uuid, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("doctor_id", sa.Uuid, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("scheduled_time", UTCDateTime),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

conversations = sa.Table(
    "conversations",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("user_id", sa.Uuid, sa.ForeignKey("users.id"), nullable=False, index=True),
    sa.Column("doctor_id", sa.Uuid, sa.ForeignKey("users.id"), nullable=False, index=True),
    sa.Column("appointment_id", sa.Uuid, sa.ForeignKey("appointments.id")),
    sa.Column("status", sa.String(20), nullable=False, server_default="ACTIVE", index=True),
    sa.Column("last_message_at", UTCDateTime),
    # Highest message seq so far; bumped in the insert transaction (it also serializes senders).
    sa.Column("last_seq", sa.Integer, nullable=False, server_default="0"),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    _enum_check("status", CONVERSATION_STATUSES),
)

chat_messages = sa.Table(
    "chat_messages",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("conversation_id", sa.Uuid, sa.ForeignKey("conversations.id"), nullable=False),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("sender_id", sa.Uuid, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("sender_type", sa.String(10), nullable=False),
    # AES-256-GCM ciphertext (base64) of the text; `key_id` names the key that sealed it.
    sa.Column("content", sa.Text, nullable=False),
    sa.Column("key_id", sa.String(64), nullable=False),
    sa.Column("content_type", sa.String(20), nullable=False, server_default="TEXT"),
    sa.Column("file_name", sa.String(255)),
    sa.Column("file_size", sa.BigInteger),
    sa.Column("file_id", sa.Uuid),
    sa.Column("client_message_id", sa.String(100)),
    sa.Column("is_read", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("read_at", UTCDateTime),
    sa.Column("sent_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("conversation_id", "seq", name="uq_chat_messages_conversation_seq"),
    sa.UniqueConstraint(
        "conversation_id", "sender_id", "client_message_id", name="uq_chat_messages_client_id"
    ),
    sa.Index("idx_messages_conversation_sent_at", "conversation_id", "sent_at"),
    sa.Index("idx_messages_unread", "conversation_id", "is_read"),
    _enum_check("sender_type", SENDER_TYPES),
    _enum_check("content_type", CONTENT_TYPES),
)

chat_files = sa.Table(
    "chat_files",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("conversation_id", sa.Uuid, sa.ForeignKey("conversations.id"), nullable=False),
    sa.Column("uploader_id", sa.Uuid, sa.ForeignKey("users.id"), nullable=False),
    # Object name in the file store: generated, never derived from user input.
    sa.Column("storage_key", sa.String(200), nullable=False, unique=True),
    sa.Column("mime_type", sa.String(100), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("key_id", sa.String(64)),
    sa.Column("status", sa.String(20), nullable=False, server_default="CLEAN"),
    sa.Column("created_at", UTCDateTime, nullable=False),
    # --- files (issue 4): thumbnail object and malware-scan state (migration 0004) ---------
    sa.Column("thumbnail_key", sa.String(200)),
    sa.Column("thumbnail_key_id", sa.String(64)),
    sa.Column("thumbnail_size", sa.BigInteger),
    sa.Column("scanned_at", UTCDateTime),
    # The scanner's verdict (e.g. a signature name); never shown to clients.
    sa.Column("scan_result", sa.String(200)),
    sa.Index("ix_chat_files_status", "status"),
    _enum_check("status", FILE_STATUSES),
)

video_call_rooms = sa.Table(
    "video_call_rooms",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("room_name", sa.String(100), nullable=False, unique=True),
    sa.Column("appointment_id", sa.Uuid, sa.ForeignKey("appointments.id")),
    sa.Column("conversation_id", sa.Uuid, sa.ForeignKey("conversations.id")),
    sa.Column("host_id", sa.Uuid, sa.ForeignKey("users.id"), nullable=False, index=True),
    sa.Column("guest_id", sa.Uuid, sa.ForeignKey("users.id"), nullable=False, index=True),
    sa.Column("status", sa.String(20), nullable=False, server_default="WAITING", index=True),
    sa.Column("scheduled_time", UTCDateTime),
    sa.Column("started_at", UTCDateTime),
    sa.Column("ended_at", UTCDateTime),
    sa.Column("duration", sa.Integer),
    sa.Column("recording_url", sa.String(500)),
    sa.Column("has_recording", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("notes", sa.Text),
    sa.Column("created_at", UTCDateTime, nullable=False),
    _enum_check("status", ROOM_STATUSES),
)

# --- video calls (calls/, migration 0002) -------------------------------------------------

CALL_PROVIDERS = ("p2p", "jitsi", "agora")
END_REASONS = ("ended_by_host", "ended_by_guest", "max_duration", "cancelled")

# The room's own columns beyond the spec's, added to video_call_rooms by migration 0002.
video_call_rooms.append_column(
    sa.Column("provider", sa.String(20), nullable=False, server_default="p2p")
)
video_call_rooms.append_column(sa.Column("planned_duration", sa.Integer))  # minutes
video_call_rooms.append_column(sa.Column("max_duration_seconds", sa.Integer))
video_call_rooms.append_column(sa.Column("opens_at", UTCDateTime))
video_call_rooms.append_column(sa.Column("expires_at", UTCDateTime))
video_call_rooms.append_column(sa.Column("end_reason", sa.String(20)))
video_call_rooms.append_column(sa.Column("ended_by", sa.Uuid))
sa.Index("idx_video_rooms_host_created", video_call_rooms.c.host_id, video_call_rooms.c.created_at)

call_participants = sa.Table(
    "call_participants",
    metadata,
    sa.Column("room_id", sa.Uuid, sa.ForeignKey("video_call_rooms.id"), primary_key=True),
    sa.Column("user_id", sa.Uuid, sa.ForeignKey("users.id"), primary_key=True),
    sa.Column("role", sa.String(10), nullable=False),
    # First join; `left_at` is set when the user's last socket goes and cleared on a rejoin.
    sa.Column("joined_at", UTCDateTime, nullable=False),
    sa.Column("left_at", UTCDateTime),
    # Let in by the host (the waiting room, issue 17, migration 0021); NULL: still waiting.
    sa.Column("admitted_at", UTCDateTime),
    sa.Column("is_video_on", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("is_audio_on", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("browser", sa.String(200)),
)

call_stats = sa.Table(
    "call_stats",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("room_id", sa.Uuid, sa.ForeignKey("video_call_rooms.id"), nullable=False),
    sa.Column("user_id", sa.Uuid, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("reported_at", UTCDateTime, nullable=False),
    sa.Column("bitrate_kbps", sa.Float, nullable=False),
    sa.Column("packet_loss_pct", sa.Float, nullable=False),
    sa.Column("rtt_ms", sa.Float, nullable=False),
    sa.Column("frames_per_second", sa.Float, nullable=False),
    sa.Column("width", sa.Integer, nullable=False),
    sa.Column("height", sa.Integer, nullable=False),
    sa.Column("quality_score", sa.Integer, nullable=False),
    sa.Index("idx_call_stats_room", "room_id", "reported_at"),
)

# --- call recording (issue 10, migration 0006) -------------------------------------------

RECORDING_STATUSES = (
    "REQUESTED",
    "DECLINED",
    "RECORDING",
    "STOPPED",
    "ASSEMBLING",
    "READY",
    "FAILED",
)
RECORDING_SOURCES = ("browser", "jibri")

call_recordings = sa.Table(
    "call_recordings",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("room_id", sa.Uuid, sa.ForeignKey("video_call_rooms.id"), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    # browser: chunks from the doctor's MediaRecorder; jibri: one file from Jibri's finalize.
    sa.Column("source", sa.String(10), nullable=False),
    # Consent trail: who asked, who agreed (or declined) and when, who stopped and when.
    sa.Column("requested_by", sa.Uuid, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("requested_at", UTCDateTime, nullable=False),
    sa.Column("consented_by", sa.Uuid, sa.ForeignKey("users.id")),
    sa.Column("consent_at", UTCDateTime),
    sa.Column("declined_at", UTCDateTime),
    sa.Column("started_at", UTCDateTime),
    sa.Column("stopped_at", UTCDateTime),
    # NULL with stopped_at set: the call ended (or hit its maximum duration) while recording.
    sa.Column("stopped_by", sa.Uuid, sa.ForeignKey("users.id")),
    # STOPPED: chunks are accepted until, and assembly starts after, this moment;
    # ASSEMBLING: the claiming node's lease (another node may take over after it).
    sa.Column("next_attempt_at", UTCDateTime),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    # The assembled file (READY): an object in the file store, like chat files.
    sa.Column("storage_key", sa.String(200), unique=True),
    sa.Column("key_id", sa.String(64)),
    sa.Column("mime_type", sa.String(100)),
    sa.Column("size", sa.BigInteger),
    sa.Column("sha256", sa.String(64)),
    sa.Column("duration_seconds", sa.Float),
    sa.Column("ready_at", UTCDateTime),
    # Why it FAILED (NO_MEDIA, INFECTED, ...); scanner verdicts are never shown to clients.
    sa.Column("failure", sa.String(200)),
    sa.Index("idx_call_recordings_room", "room_id", "requested_at"),
    sa.Index("idx_call_recordings_status", "status", "next_attempt_at"),
    _enum_check("status", RECORDING_STATUSES),
    _enum_check("source", RECORDING_SOURCES),
)

call_recording_chunks = sa.Table(
    "call_recording_chunks",
    metadata,
    sa.Column("recording_id", sa.Uuid, sa.ForeignKey("call_recordings.id"), primary_key=True),
    # The recorder's index: the primary key makes a re-sent chunk a no-op.
    sa.Column("chunk_index", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("storage_key", sa.String(200), nullable=False, unique=True),
    sa.Column("key_id", sa.String(64)),
    sa.Column("size", sa.Integer, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("received_at", UTCDateTime, nullable=False),
)

# --- security (issue 9): audit trail, token revocation, maintenance checkpoints ------------

AUDIT_OUTCOMES = ("ok", "denied", "error")

# Append-only (triggers refuse UPDATE/DELETE); each row's `hash` = HMAC(secret, prev_hash ||
# canonical row), so an edit or a deletion that got past the triggers breaks the chain.
audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("at", UTCDateTime, nullable=False, index=True),
    sa.Column("actor_id", sa.Uuid, index=True),
    sa.Column("role", sa.String(10)),
    sa.Column("action", sa.String(64), nullable=False, index=True),
    sa.Column("object_type", sa.String(32)),
    sa.Column("object_id", sa.String(64)),
    # No foreign key: the trail outlives conversations that retention purges.
    sa.Column("conversation_id", sa.Uuid, index=True),
    sa.Column("client_ip", sa.String(64)),
    sa.Column("user_agent", sa.String(300)),
    sa.Column("outcome", sa.String(10), nullable=False),
    sa.Column("detail", sa.String(300)),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    _enum_check("outcome", AUDIT_OUTCOMES),
)

# One row (id=1): the chain's newest seq and hash. Appends UPDATE it first, which takes its row
# lock (PostgreSQL) or the write lock (SQLite), so appends are serialized across processes.
audit_chain_head = sa.Table(
    "audit_chain_head",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
)

revoked_tokens = sa.Table(
    "revoked_tokens",
    metadata,
    # The token's `jti`, or the SHA-256 of the token when it has none.
    sa.Column("token_id", sa.String(128), primary_key=True),
    sa.Column("user_id", sa.Uuid, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False, index=True),
    sa.Column("revoked_at", UTCDateTime, nullable=False, index=True),  # the revocation sweep
)

# Tokens of `user_id` issued before `not_before` are refused ("sign out everywhere").
token_cutoffs = sa.Table(
    "token_cutoffs",
    metadata,
    sa.Column("user_id", sa.Uuid, primary_key=True),
    sa.Column("not_before", UTCDateTime, nullable=False, index=True),  # the revocation sweep
)

# Where a resumable batch job (key rotation) got to.
maintenance_checkpoints = sa.Table(
    "maintenance_checkpoints",
    metadata,
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("position", sa.String(100), nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

# --- scale-out (issue 3): transactional outbox, job idempotency, archives -----------------

OUTBOX_STATUSES = ("PENDING", "PUBLISHED", "DONE", "DEAD")

# Work written in the same transaction as the change that causes it; a relay hands it on.
outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("kind", sa.String(50), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),  # JSON; ids only, never message content
    sa.Column("status", sa.String(20), nullable=False, server_default="PENDING"),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("available_at", UTCDateTime, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("last_error", sa.String(300)),
    # Jobs that stand for "something is waiting" (an offline notification) share a key: one
    # pending row per key; a new write bumps `revision` instead of adding a row, so a runner
    # that read an older revision knows the row still has work when it finishes.
    sa.Column("coalesce_key", sa.String(200)),
    sa.Column("revision", sa.Integer, nullable=False, server_default="0"),
    sa.Index("idx_outbox_pending", "status", "available_at"),
    sa.Index(
        "uq_outbox_pending_coalesce_key",
        "coalesce_key",
        unique=True,
        postgresql_where=sa.text("status = 'PENDING'"),
        sqlite_where=sa.text("status = 'PENDING'"),
    ),
    _enum_check("status", OUTBOX_STATUSES),
)

# When a participant was last told of a conversation's waiting messages, and up to which seq
# (offline notifications are coalesced: jobs/kinds/notify.py).
notification_marks = sa.Table(
    "notification_marks",
    metadata,
    sa.Column("user_id", sa.Uuid, sa.ForeignKey("users.id"), primary_key=True),
    sa.Column("conversation_id", sa.Uuid, sa.ForeignKey("conversations.id"), primary_key=True),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("notified_at", UTCDateTime, nullable=False),
)

# One row per job effect: claimed before it is applied (so two copies of a job never run it at
# once), done after. A claim older than its lease is taken over (its runner died).
job_runs = sa.Table(
    "job_runs",
    metadata,
    sa.Column("job_key", sa.String(200), primary_key=True),
    sa.Column("claimed_at", UTCDateTime, nullable=False),
    sa.Column("done_at", UTCDateTime),
)

# Highest seq each participant has read (kept by a background job, off the sender's path).
read_cursors = sa.Table(
    "read_cursors",
    metadata,
    sa.Column("conversation_id", sa.Uuid, sa.ForeignKey("conversations.id"), primary_key=True),
    sa.Column("user_id", sa.Uuid, sa.ForeignKey("users.id"), primary_key=True),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("read_at", UTCDateTime, nullable=False),
)

# The compressed archive object of an ARCHIVED conversation, in the file store.
conversation_archives = sa.Table(
    "conversation_archives",
    metadata,
    sa.Column("conversation_id", sa.Uuid, sa.ForeignKey("conversations.id"), primary_key=True),
    sa.Column("storage_key", sa.String(200), nullable=False),
    sa.Column("key_id", sa.String(64)),
    sa.Column("message_count", sa.Integer, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

# --- legal hold (issue 19, migration 0019_legal_holds) ---------------------------------------

# An ADMIN's hold on a conversation: while one is active (lifted_at NULL), retention keeps the
# conversation's messages, files and recordings. Lifted holds stay as the hold's history.
legal_holds = sa.Table(
    "legal_holds",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("conversation_id", sa.Uuid, sa.ForeignKey("conversations.id"), nullable=False),
    # The legal matter (a case reference); never shown to patients or doctors.
    sa.Column("reason", sa.String(300), nullable=False),
    sa.Column("placed_by", sa.Uuid, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("placed_at", UTCDateTime, nullable=False),
    sa.Column("lifted_by", sa.Uuid, sa.ForeignKey("users.id")),
    sa.Column("lifted_at", UTCDateTime),
    sa.Index("idx_legal_holds_conversation", "conversation_id", "lifted_at"),
)

# --- voice messages and video clips (issue 19, migration 0019_media_duration) ---------------

# Read from the file by ffprobe when it is uploaded; shown by the player before it loads.
chat_files.append_column(sa.Column("duration_seconds", sa.Float))

# --- search in encrypted history (issue 19, migration 0019_search_index) ---------------------

# Which key of the ring made each conversation's index terms (rebuilt when keys rotate).
search_conversations = sa.Table(
    "search_conversations",
    metadata,
    sa.Column("conversation_id", sa.Uuid, sa.ForeignKey("conversations.id"), primary_key=True),
    sa.Column("key_id", sa.String(64), nullable=False),
)

# The blind index: `term` is a keyed hash of (conversation, word) (search/blind.py); `bits`
# marks which of the 64 messages of `block` (seq // 64) hold that word. No ids, no text.
search_terms = sa.Table(
    "search_terms",
    metadata,
    sa.Column("term", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("block", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("bits", sa.BigInteger, nullable=False),
    sqlite_with_rowid=False,
)

# --- notifications (issue 18, migration 0022_notifications) ----------------------------------

# One Web Push subscription per browser (device) of a user; deleted when the push service
# answers 404/410 (the browser dropped it) or the user turns push off on that device.
push_subscriptions = sa.Table(
    "push_subscriptions",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("user_id", sa.Uuid, sa.ForeignKey("users.id"), nullable=False, index=True),
    sa.Column("endpoint", sa.String(1000), nullable=False, unique=True),
    sa.Column("p256dh", sa.String(200), nullable=False),  # the browser's ECDH key (base64url)
    sa.Column("auth", sa.String(100), nullable=False),  # its auth secret (base64url)
    sa.Column("created_at", UTCDateTime, nullable=False),
)

# What each user wants (no row: the defaults, push on and email off).
notification_preferences = sa.Table(
    "notification_preferences",
    metadata,
    sa.Column("user_id", sa.Uuid, sa.ForeignKey("users.id"), primary_key=True),
    sa.Column("push", sa.Boolean, nullable=False),
    sa.Column("email_digest", sa.Boolean, nullable=False),
    sa.Column("email", sa.String(320)),
    sa.Column("quiet_start", sa.String(5)),  # "22:00", in the user's time zone
    sa.Column("quiet_end", sa.String(5)),
    sa.Column("time_zone", sa.String(64), nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

# One email digest per user and window: the row is the "already scheduled" mark.
email_digests = sa.Table(
    "email_digests",
    metadata,
    sa.Column("user_id", sa.Uuid, sa.ForeignKey("users.id"), primary_key=True),
    sa.Column("due_at", UTCDateTime, primary_key=True),
)

# A patient message that waited past an escalation threshold: one row per (message, threshold),
# so each wait escalates once per threshold.
notification_escalations = sa.Table(
    "notification_escalations",
    metadata,
    # no foreign key: retention may purge the message, the escalation stays as a fact
    sa.Column("message_id", sa.Uuid, primary_key=True),
    sa.Column("threshold_minutes", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("conversation_id", sa.Uuid, sa.ForeignKey("conversations.id"), nullable=False),
    sa.Column("escalated_at", UTCDateTime, nullable=False),
)

# Unread patient messages, the escalation sweep's question (small: what waits right now).
sa.Index(
    "idx_messages_unread_patient",
    chat_messages.c.sent_at,
    sqlite_where=sa.and_(
        chat_messages.c.is_read.is_(False), chat_messages.c.sender_type == "PATIENT"
    ),
    postgresql_where=sa.and_(
        chat_messages.c.is_read.is_(False), chat_messages.c.sender_type == "PATIENT"
    ),
)
