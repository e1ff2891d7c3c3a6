"""SQL for conversations and messages. No authorization here: the service decides who may ask."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection

from medtalk.db import asyncpg_direct, together, upsert
from medtalk.db.tables import (
    UTCDateTime,
    appointments,
    chat_files,
    chat_messages,
    conversation_archives,
    conversations,
    read_cursors,
    search_conversations,
    users,
)
from medtalk.db.together import Write
from medtalk.db.values import conversation_seqs


@dataclass(frozen=True)
class ConversationRow:
    id: uuid.UUID
    patient_id: uuid.UUID
    doctor_id: uuid.UUID
    appointment_id: uuid.UUID | None
    status: str
    last_seq: int
    last_message_at: datetime | None
    created_at: datetime
    # The key its search index is under (search/, issue 19); read only with its lock, where
    # the send path needs it, and None elsewhere and before its first message.
    search_key_id: str | None = None

    def has_participant(self, user_id: uuid.UUID) -> bool:
        return user_id in (self.patient_id, self.doctor_id)

    def other_participant(self, user_id: uuid.UUID) -> uuid.UUID:
        return self.doctor_id if user_id == self.patient_id else self.patient_id


@dataclass(frozen=True)
class MessageRow:
    """A stored message; `content` is still sealed (see ChatService for opening it)."""

    id: uuid.UUID
    conversation_id: uuid.UUID
    seq: int
    sender_id: uuid.UUID
    sender_type: str
    content: str
    key_id: str
    content_type: str
    file_name: str | None
    file_size: int | None
    file_id: uuid.UUID | None
    client_message_id: str | None
    is_read: bool
    read_at: datetime | None
    sent_at: datetime
    # From the attached file's row (files, issue 4); not columns of chat_messages.
    file_status: str | None = None
    has_thumbnail: bool = False
    duration_seconds: float | None = None  # voice messages and video clips (issue 19)


_CONVERSATION_COLUMNS = (
    conversations.c.id,
    conversations.c.user_id.label("patient_id"),
    conversations.c.doctor_id,
    conversations.c.appointment_id,
    conversations.c.status,
    conversations.c.last_seq,
    conversations.c.last_message_at,
    conversations.c.created_at,
)
_STORED_FIELDS = tuple(name for name in MessageRow.__dataclass_fields__ if name in chat_messages.c)
_MESSAGE_COLUMNS = (
    *(chat_messages.c[name] for name in _STORED_FIELDS),
    chat_files.c.status.label("file_status"),
    (chat_files.c.thumbnail_key.is_not(None)).label("has_thumbnail"),
    chat_files.c.duration_seconds,
)
_WITH_FILES = chat_messages.outerjoin(chat_files, chat_files.c.id == chat_messages.c.file_id)


def _select_messages() -> sa.Select[tuple[object, ...]]:
    return sa.select(*_MESSAGE_COLUMNS).select_from(_WITH_FILES)


def _conversation(row: sa.Row[*tuple[Any, ...]]) -> ConversationRow:
    return ConversationRow(**row._asdict())


def _message(row: sa.Row[*tuple[Any, ...]]) -> MessageRow:
    values = row._asdict()
    values["has_thumbnail"] = bool(values["has_thumbnail"])
    return MessageRow(**values)


# --- appointments -------------------------------------------------------------------------


async def get_appointment_parties(
    db: AsyncConnection, appointment_id: uuid.UUID
) -> tuple[uuid.UUID, uuid.UUID] | None:
    query = sa.select(appointments.c.patient_id, appointments.c.doctor_id).where(
        appointments.c.id == appointment_id
    )
    row = (await db.execute(query)).first()
    return (row.patient_id, row.doctor_id) if row else None


async def insert_appointment(
    db: AsyncConnection,
    appointment_id: uuid.UUID,
    patient_id: uuid.UUID,
    doctor_id: uuid.UUID,
    now: datetime,
    *,
    scheduled_time: datetime | None = None,
) -> None:
    await db.execute(
        appointments.insert().values(
            id=appointment_id,
            patient_id=patient_id,
            doctor_id=doctor_id,
            scheduled_time=scheduled_time,
            created_at=now,
        )
    )


# --- conversations ------------------------------------------------------------------------


async def insert_conversation(
    db: AsyncConnection,
    conversation_id: uuid.UUID,
    patient_id: uuid.UUID,
    doctor_id: uuid.UUID,
    appointment_id: uuid.UUID | None,
    now: datetime,
) -> None:
    await db.execute(
        conversations.insert().values(
            id=conversation_id,
            user_id=patient_id,
            doctor_id=doctor_id,
            appointment_id=appointment_id,
            status="ACTIVE",
            last_seq=0,
            created_at=now,
            updated_at=now,
        )
    )


async def get_conversation(
    db: AsyncConnection, conversation_id: uuid.UUID
) -> ConversationRow | None:
    query = sa.select(*_CONVERSATION_COLUMNS).where(conversations.c.id == conversation_id)
    row = (await db.execute(query)).first()
    return _conversation(row) if row else None


def _visible_to(user_id: uuid.UUID | None) -> sa.ColumnElement[bool]:
    """Conversations the user takes part in; None means all (an administrator)."""
    if user_id is None:
        return sa.true()
    return sa.or_(conversations.c.user_id == user_id, conversations.c.doctor_id == user_id)


async def list_conversations(
    db: AsyncConnection,
    user_id: uuid.UUID | None,
    status: str | None,
    offset: int,
    limit: int,
) -> tuple[int, list[ConversationRow]]:
    """One page of the user's conversations, most recently active first, and the total."""
    where = _visible_to(user_id)
    if status is not None:
        where = sa.and_(where, conversations.c.status == status)
    total = (
        await db.execute(sa.select(sa.func.count()).select_from(conversations).where(where))
    ).scalar_one()
    activity = sa.func.coalesce(conversations.c.last_message_at, conversations.c.created_at)
    query = (
        sa.select(*_CONVERSATION_COLUMNS)
        .where(where)
        .order_by(activity.desc(), conversations.c.id)
        .offset(offset)
        .limit(limit)
    )
    return int(total), [_conversation(row) for row in await db.execute(query)]


async def unread_counts(
    db: AsyncConnection, conversation_ids: list[uuid.UUID], reader_id: uuid.UUID
) -> dict[uuid.UUID, int]:
    """Messages from the other side that `reader_id` has not read, per conversation."""
    if not conversation_ids:
        return {}
    query = (
        sa.select(chat_messages.c.conversation_id, sa.func.count())
        .where(
            chat_messages.c.conversation_id.in_(conversation_ids),
            chat_messages.c.is_read.is_(False),
            chat_messages.c.sender_id != reader_id,
        )
        .group_by(chat_messages.c.conversation_id)
    )
    return {row[0]: int(row[1]) for row in await db.execute(query)}


@dataclass(frozen=True)
class WaitingMessage:
    id: uuid.UUID
    seq: int
    sender_id: uuid.UUID
    sent_at: datetime


@dataclass(frozen=True)
class Waiting:
    """Unread messages for a reader after some seq: how many, and the newest."""

    count: int
    newest: WaitingMessage


async def waiting_for(
    db: AsyncConnection, conversation_id: uuid.UUID, reader_id: uuid.UUID, *, after_seq: int
) -> Waiting | None:
    """The other side's unread messages after `after_seq` (offline notifications), in one
    query; None if there are none."""
    query = (
        sa.select(
            chat_messages.c.id,
            chat_messages.c.seq,
            chat_messages.c.sender_id,
            chat_messages.c.sent_at,
            sa.func.count().over().label("waiting"),
        )
        .where(
            chat_messages.c.conversation_id == conversation_id,
            chat_messages.c.seq > after_seq,
            chat_messages.c.is_read.is_(False),
            chat_messages.c.sender_id != reader_id,
        )
        .order_by(chat_messages.c.seq.desc())
        .limit(1)
    )
    row = (await db.execute(query)).first()
    if row is None:
        return None
    return Waiting(int(row.waiting), WaitingMessage(row.id, row.seq, row.sender_id, row.sent_at))


async def last_messages(
    db: AsyncConnection, conversations_: list[ConversationRow]
) -> dict[uuid.UUID, MessageRow]:
    wanted = [(c.id, c.last_seq) for c in conversations_ if c.last_seq > 0]
    if not wanted:
        return {}
    query = _select_messages().where(
        sa.tuple_(chat_messages.c.conversation_id, chat_messages.c.seq).in_(wanted)
    )
    return {row.conversation_id: _message(row) for row in await db.execute(query)}


async def user_names(db: AsyncConnection, user_ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    if not user_ids:
        return {}
    query = sa.select(users.c.id, users.c.name).where(users.c.id.in_(user_ids))
    return {row.id: row.name for row in await db.execute(query)}


# --- messages -----------------------------------------------------------------------------


def next_sent_at(previous: datetime | None, now: datetime) -> datetime:
    """`now`, or 1 ms after the previous message if the clock has not moved past it."""
    return now if previous is None or now > previous else previous + timedelta(milliseconds=1)


# --- the message write path (one message, or a batch: db/group_commit.py) ----------------

ClientKey = tuple[uuid.UUID, uuid.UUID, str]  # conversation, sender, client message id


async def lock_conversations(
    db: AsyncConnection, conversation_ids: set[uuid.UUID]
) -> dict[uuid.UUID, ConversationRow]:
    """The conversations, row-locked until commit so their seqs can be handed out.

    FOR NO KEY UPDATE (PostgreSQL), in id order: writers queue here without deadlocks, and it
    does not block message inserts' foreign-key checks.
    SQLite has no row locks; there the Database write lock serializes writers.
    """
    ids = sorted(conversation_ids)
    if db.dialect.name == "postgresql":  # every message batch runs it (db/asyncpg_direct.py)
        records = await asyncpg_direct.fetch(db, _LOCK_CONVERSATIONS_PG, ids)
        return {record["id"]: _conversation_record(record, db.dialect) for record in records}
    rows = await db.execute(_LOCK_CONVERSATIONS, {"ids": ids})
    return {row.id: _conversation(row) for row in rows}


def _conversation_record(record: Mapping[str, Any], dialect: Dialect) -> ConversationRow:
    """A row of _LOCK_CONVERSATIONS_PG, its times made aware as SQLAlchemy's reads make them."""
    values = dict(record)
    for name in ("last_message_at", "created_at"):
        values[name] = _AWARE_UTC(values[name], dialect)
    return ConversationRow(**values)


_AWARE_UTC = UTCDateTime().process_result_value  # the columns' own conversion (db/tables.py)


# Built once: the send path runs it for every batch, and a statement built per call costs its
# cache key each time (bench/README.md, the send path's profile). The search index's key of
# each conversation comes along, one round trip less per batch.
_LOCK_CONVERSATIONS = (
    sa.select(*_CONVERSATION_COLUMNS, search_conversations.c.key_id.label("search_key_id"))
    .select_from(
        conversations.outerjoin(
            search_conversations, search_conversations.c.conversation_id == conversations.c.id
        )
    )
    .where(conversations.c.id.in_(sa.bindparam("ids", expanding=True)))
    .order_by(conversations.c.id)
    .with_for_update(key_share=True, of=conversations)
)
_LOCK_CONVERSATIONS_PG = (  # the same, as asyncpg takes it
    "SELECT c.id, c.user_id AS patient_id, c.doctor_id, c.appointment_id, c.status, c.last_seq,"
    " c.last_message_at, c.created_at, s.key_id AS search_key_id"
    " FROM conversations c"
    " LEFT OUTER JOIN search_conversations s ON s.conversation_id = c.id"
    " WHERE c.id = ANY($1::uuid[]) ORDER BY c.id FOR NO KEY UPDATE OF c"
)


async def find_by_client_ids(
    db: AsyncConnection, keys: set[ClientKey]
) -> dict[ClientKey, MessageRow]:
    """Already stored messages among (conversation, sender, client message id) triples."""
    if not keys:
        return {}
    query = _select_messages().where(
        chat_messages.c.conversation_id.in_({key[0] for key in keys}),
        chat_messages.c.client_message_id.in_({key[2] for key in keys}),
    )
    found: dict[ClientKey, MessageRow] = {}
    for row in await db.execute(query):
        message = _message(row)
        key = (message.conversation_id, message.sender_id, message.client_message_id or "")
        if key in keys:
            found[key] = message
    return found


def messages_write(messages: list[MessageRow]) -> Write:
    """The new messages' rows, to send with the rest of their batch (db/together.py)."""
    rows = [{name: getattr(message, name) for name in _STORED_FIELDS} for message in messages]
    return together.insert_rows(chat_messages, rows)


def advance_write(newest: dict[uuid.UUID, tuple[int, datetime]], now: datetime) -> Write:
    """Set each conversation's last seq and last message time."""
    return Write(
        _ADVANCED,
        [(cid, seq, at, now) for cid, (seq, at) in newest.items()],
        "UPDATE conversations SET last_seq = ?2, last_message_at = ?3, updated_at = ?4 "
        "WHERE id = ?1",
        "UPDATE conversations SET last_seq = v.seq, last_message_at = v.at, updated_at = v.now "
        "FROM unnest({}, {}, {}, {}) AS v(id, seq, at, now) WHERE conversations.id = v.id",
    )


_ADVANCED = (
    conversations.c.id,
    conversations.c.last_seq,
    conversations.c.last_message_at,
    conversations.c.updated_at,
)


async def get_message(db: AsyncConnection, message_id: uuid.UUID) -> MessageRow | None:
    query = _select_messages().where(chat_messages.c.id == message_id)
    row = (await db.execute(query)).first()
    return _message(row) if row else None


async def find_by_client_id(
    db: AsyncConnection, conversation_id: uuid.UUID, sender_id: uuid.UUID, client_message_id: str
) -> MessageRow | None:
    query = _select_messages().where(
        chat_messages.c.conversation_id == conversation_id,
        chat_messages.c.sender_id == sender_id,
        chat_messages.c.client_message_id == client_message_id,
    )
    row = (await db.execute(query)).first()
    return _message(row) if row else None


async def messages_before(
    db: AsyncConnection, conversation_id: uuid.UUID, before: datetime | None, limit: int
) -> list[MessageRow]:
    """Up to `limit` messages sent before `before`, newest first."""
    query = _select_messages().where(chat_messages.c.conversation_id == conversation_id)
    if before is not None:
        query = query.where(chat_messages.c.sent_at < before)
    query = query.order_by(chat_messages.c.seq.desc()).limit(limit)
    return [_message(row) for row in await db.execute(query)]


async def messages_after_seq(
    db: AsyncConnection, conversation_id: uuid.UUID, after_seq: int, limit: int
) -> list[MessageRow]:
    """Up to `limit` messages with seq > after_seq, oldest first (reconnect recovery)."""
    query = (
        _select_messages()
        .where(chat_messages.c.conversation_id == conversation_id, chat_messages.c.seq > after_seq)
        .order_by(chat_messages.c.seq)
        .limit(limit)
    )
    return [_message(row) for row in await db.execute(query)]


async def newest_with_seqs(
    db: AsyncConnection,
    wanted: Mapping[uuid.UUID, Sequence[int]],
    before: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> list[MessageRow]:
    """Up to `limit` of the messages named by (conversation, seqs), newest first, older than
    `before` (sent_at, id) if given: search results, in one query."""
    if not wanted:
        return []
    # One index probe per (conversation, seq), the pairs sent as one or two parameters
    # (db/values.py): a row-value IN list was a full scan on SQLite, and slow to plan.
    pairs = conversation_seqs(db.dialect.name, wanted)
    on_pair = sa.and_(
        chat_messages.c.conversation_id == pairs.c.conversation_id,
        chat_messages.c.seq == pairs.c.seq,
    )
    query = sa.select(*_MESSAGE_COLUMNS).select_from(
        pairs.join(chat_messages, on_pair).outerjoin(
            chat_files, chat_files.c.id == chat_messages.c.file_id
        )
    )
    if before is not None:
        moment, message_id = before
        query = query.where(
            sa.or_(
                chat_messages.c.sent_at < moment,
                sa.and_(chat_messages.c.sent_at == moment, chat_messages.c.id < message_id),
            )
        )
    query = query.order_by(chat_messages.c.sent_at.desc(), chat_messages.c.id.desc()).limit(limit)
    return [_message(row) for row in await db.execute(query)]


async def mark_read_up_to(
    db: AsyncConnection, conversation_id: uuid.UUID, reader_id: uuid.UUID, seq: int, now: datetime
) -> int:
    """Mark the other side's unread messages up to `seq` read; returns how many changed."""
    result = await db.execute(
        chat_messages.update()
        .where(
            chat_messages.c.conversation_id == conversation_id,
            chat_messages.c.sender_id != reader_id,
            chat_messages.c.seq <= seq,
            chat_messages.c.is_read.is_(False),
        )
        .values(is_read=True, read_at=now)
    )
    return int(result.rowcount)


# --- scale-out: status, counterparts, newest seqs -----------------------------------------


async def set_status(
    db: AsyncConnection, conversation_id: uuid.UUID, status: str, now: datetime
) -> None:
    await db.execute(
        conversations.update()
        .where(conversations.c.id == conversation_id)
        .values(status=status, updated_at=now)
    )


async def counterparts(db: AsyncConnection, user_id: uuid.UUID) -> set[uuid.UUID]:
    query = sa.select(conversations.c.user_id, conversations.c.doctor_id).where(
        _visible_to(user_id)
    )
    found: set[uuid.UUID] = set()
    for row in await db.execute(query):
        found.add(row.doctor_id if row.user_id == user_id else row.user_id)
    return found


async def unread_since(
    db: AsyncConnection, reader_id: uuid.UUID, since: datetime
) -> list[uuid.UUID]:
    """The reader's conversations with messages from the other side sent since `since` and
    not read yet (a socket that went may not have shown them)."""
    query = (
        sa.select(chat_messages.c.conversation_id)
        .join(conversations, conversations.c.id == chat_messages.c.conversation_id)
        .where(
            _visible_to(reader_id),
            chat_messages.c.sent_at >= since,
            chat_messages.c.is_read.is_(False),
            chat_messages.c.sender_id != reader_id,
        )
        .distinct()
    )
    return [row.conversation_id for row in await db.execute(query)]


async def last_seqs(db: AsyncConnection, conversation_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    if not conversation_ids:
        return {}
    query = sa.select(conversations.c.id, conversations.c.last_seq).where(
        conversations.c.id.in_(conversation_ids)
    )
    return {row.id: int(row.last_seq) for row in await db.execute(query)}


# --- background jobs: read cursors, archives --------------------------------------------


async def advance_read_cursor(
    db: AsyncConnection, conversation_id: uuid.UUID, user_id: uuid.UUID, seq: int, now: datetime
) -> None:
    """Move the reader's cursor forward (never back: a repeat or a late job is harmless)."""
    cursor = upsert.insert(db, read_cursors).values(
        conversation_id=conversation_id, user_id=user_id, seq=seq, read_at=now
    )
    await db.execute(
        cursor.on_conflict_do_update(
            index_elements=["conversation_id", "user_id"],
            set_={"seq": cursor.excluded.seq, "read_at": cursor.excluded.read_at},
            where=read_cursors.c.seq < cursor.excluded.seq,
        )
    )


async def conversation_status(
    db: AsyncConnection, conversation_id: uuid.UUID, *, lock: bool = False
) -> str | None:
    query = sa.select(conversations.c.status).where(conversations.c.id == conversation_id)
    if lock and db.dialect.name == "postgresql":
        query = query.with_for_update()
    status: str | None = (await db.execute(query)).scalar_one_or_none()
    return status


async def closed_idle_since(db: AsyncConnection, cutoff: datetime, limit: int) -> list[uuid.UUID]:
    """CLOSED conversations untouched since `cutoff` (due for the archive)."""
    query = (
        sa.select(conversations.c.id)
        .where(conversations.c.status == "CLOSED", conversations.c.updated_at <= cutoff)
        .limit(limit)
    )
    return list((await db.execute(query)).scalars())


async def stored_messages_after(
    db: AsyncConnection, conversation_id: uuid.UUID, after_seq: int, limit: int
) -> list[dict[str, Any]]:
    """Whole message rows as stored (content still sealed), oldest first: the archive's lines."""
    query = (
        sa.select(chat_messages)
        .where(chat_messages.c.conversation_id == conversation_id, chat_messages.c.seq > after_seq)
        .order_by(chat_messages.c.seq)
        .limit(limit)
    )
    return [row._asdict() for row in await db.execute(query)]


async def insert_archive(
    db: AsyncConnection,
    conversation_id: uuid.UUID,
    storage_key: str,
    key_id: str | None,
    message_count: int,
    now: datetime,
) -> None:
    await db.execute(
        conversation_archives.insert().values(
            conversation_id=conversation_id,
            storage_key=storage_key,
            key_id=key_id,
            message_count=message_count,
            created_at=now,
        )
    )


async def get_archive(
    db: AsyncConnection, conversation_id: uuid.UUID
) -> tuple[str, str | None] | None:
    """The archive object's storage key and key id, if the conversation was archived."""
    query = sa.select(conversation_archives.c.storage_key, conversation_archives.c.key_id).where(
        conversation_archives.c.conversation_id == conversation_id
    )
    row = (await db.execute(query)).first()
    return (row.storage_key, row.key_id) if row else None


async def message_id_of_file(db: AsyncConnection, file_id: uuid.UUID) -> uuid.UUID | None:
    """The message an attachment was sent with."""
    query = sa.select(chat_messages.c.id).where(chat_messages.c.file_id == file_id)
    message_id: uuid.UUID | None = (await db.execute(query)).scalar()
    return message_id


# --- retention (privacy/retention.py) ----------------------------------------------------


async def expired_conversation_ids(
    db: AsyncConnection,
    now: datetime,
    days_by_status: dict[str, int],
    also: list[sa.ColumnElement[bool]],
    limit: int,
) -> list[uuid.UUID]:
    """Conversations idle past their status's retention (0 days: never) that also meet every
    condition in `also` (which may name `conversations.c.id`, the outer row)."""
    # updated_at moves with every message and every status change (closing, archiving).
    expired = [
        sa.and_(
            conversations.c.status == status,
            conversations.c.updated_at < now - timedelta(days=days),
        )
        for status, days in days_by_status.items()
        if days > 0
    ]
    if not expired:
        return []
    query = (
        sa.select(conversations.c.id)
        .where(sa.or_(*expired), *also)
        .order_by(conversations.c.id)
        .limit(limit)
    )
    return [row.id for row in await db.execute(query)]


def has_messages(conversation_id: object) -> sa.ColumnElement[bool]:
    """True where the conversation holds messages (for an EXISTS on an outer row)."""
    return sa.exists().where(chat_messages.c.conversation_id == conversation_id)


async def count_messages(db: AsyncConnection, conversation_id: uuid.UUID) -> int:
    query = sa.select(sa.func.count()).where(chat_messages.c.conversation_id == conversation_id)
    return int(await db.scalar(query) or 0)


async def delete_messages(db: AsyncConnection, conversation_id: uuid.UUID) -> int:
    result = await db.execute(
        chat_messages.delete().where(chat_messages.c.conversation_id == conversation_id)
    )
    return int(result.rowcount)


CONVERSATION_ID = conversations.c.id  # the outer row's id, for the conditions above


# --- key rotation (privacy/rotation.py) --------------------------------------------------


@dataclass(frozen=True)
class SealedMessage:
    id: uuid.UUID
    key_id: str
    content: str


async def count_messages_not_under(db: AsyncConnection, key_id: str) -> int:
    query = sa.select(sa.func.count()).where(chat_messages.c.key_id != key_id)
    return int(await db.scalar(query) or 0)


async def messages_not_under(
    db: AsyncConnection, key_id: str, after: uuid.UUID | None, limit: int
) -> list[SealedMessage]:
    """Up to `limit` messages sealed under another key, by id, after `after`."""
    query = (
        sa.select(chat_messages.c.id, chat_messages.c.key_id, chat_messages.c.content)
        .where(chat_messages.c.key_id != key_id)
        .order_by(chat_messages.c.id)
        .limit(limit)
    )
    if after is not None:
        query = query.where(chat_messages.c.id > after)
    return [SealedMessage(row.id, row.key_id, row.content) for row in await db.execute(query)]


async def reseal_message(db: AsyncConnection, old: SealedMessage, key_id: str, sealed: str) -> bool:
    """Store the message under a new key, only if nobody changed it meanwhile."""
    result = await db.execute(
        chat_messages.update()
        .where(
            chat_messages.c.id == old.id,
            chat_messages.c.key_id == old.key_id,
            chat_messages.c.content == old.content,
        )
        .values(key_id=key_id, content=sealed)
    )
    return bool(result.rowcount)


async def message_keys_outside(db: AsyncConnection, key_ids: list[str]) -> dict[str, int]:
    """Messages per key id, for key ids not in `key_ids`."""
    return await _rows_per_key_outside(db, chat_messages.c.key_id, key_ids)


async def _rows_per_key_outside(
    db: AsyncConnection, key_column: sa.Column[Any], key_ids: list[str]
) -> dict[str, int]:
    query = (
        sa.select(key_column, sa.func.count())
        .where(key_column.is_not(None), key_column.not_in(key_ids))
        .group_by(key_column)
    )
    return {key_id: int(count) for key_id, count in await db.execute(query)}


# --- archives: key rotation and retention (privacy/) --------------------------------------


@dataclass(frozen=True)
class ArchiveObject:
    conversation_id: uuid.UUID
    storage_key: str
    key_id: str | None


def has_archive(conversation_id: object) -> sa.ColumnElement[bool]:
    """True where the conversation has an archive object (for an EXISTS on an outer row)."""
    return sa.exists().where(conversation_archives.c.conversation_id == conversation_id)


async def count_archives(db: AsyncConnection) -> int:
    return int(await db.scalar(sa.select(sa.func.count()).select_from(conversation_archives)) or 0)


async def archives_after(
    db: AsyncConnection, after: uuid.UUID | None, limit: int
) -> list[ArchiveObject]:
    """Up to `limit` archives by conversation id, after `after` (every one: the rows inside
    may be under an older key whatever seals the object)."""
    query = (
        sa.select(
            conversation_archives.c.conversation_id,
            conversation_archives.c.storage_key,
            conversation_archives.c.key_id,
        )
        .order_by(conversation_archives.c.conversation_id)
        .limit(limit)
    )
    if after is not None:
        query = query.where(conversation_archives.c.conversation_id > after)
    return [ArchiveObject(*row) for row in await db.execute(query)]


async def switch_archive(
    db: AsyncConnection, old: ArchiveObject, storage_key: str, key_id: str | None
) -> bool:
    """Point the archive at its re-sealed object, only if nobody changed the row meanwhile."""
    result = await db.execute(
        conversation_archives.update()
        .where(
            conversation_archives.c.conversation_id == old.conversation_id,
            conversation_archives.c.storage_key == old.storage_key,
        )
        .values(storage_key=storage_key, key_id=key_id)
    )
    return bool(result.rowcount)


async def archive_keys_outside(db: AsyncConnection, key_ids: list[str]) -> dict[str, int]:
    """Archives per key id, for key ids not in `key_ids`."""
    return await _rows_per_key_outside(db, conversation_archives.c.key_id, key_ids)


async def delete_archive(db: AsyncConnection, conversation_id: uuid.UUID) -> str | None:
    """Delete the conversation's archive row; the storage key of its object, if it had one."""
    storage_key: str | None = await db.scalar(
        conversation_archives.delete()
        .where(conversation_archives.c.conversation_id == conversation_id)
        .returning(conversation_archives.c.storage_key)
    )
    return storage_key
