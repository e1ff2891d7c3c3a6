"""Retention: purge the messages, files and call recordings of conversations closed or archived
long enough ago.

The conversation row stays (ids, parties, status, dates: no content) so the audit trail and
other records that name it still resolve. Each purged conversation gets an audit row, written
in the same transaction as the deletion. `purge_expired` is what a scheduler calls.
Conversations under legal hold (legalhold/) are kept, and the report lists them as `held`.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from medtalk.audit import AuditTrail
from medtalk.core.clock import Clock
from medtalk.db.engine import Database
from medtalk.db.tables import (
    call_recording_chunks,
    call_recordings,
    chat_files,
    chat_messages,
    conversations,
    video_call_rooms,
)
from medtalk.files.storage import FileStorage
from medtalk.legalhold import store as legal_holds
from medtalk.settings import Settings

logger = logging.getLogger(__name__)


@dataclass
class PurgeReport:
    dry_run: bool
    conversations: list[uuid.UUID] = field(default_factory=list)
    messages: int = 0
    files: int = 0  # chat files and call recordings (each recording counts once)
    held: list[uuid.UUID] = field(default_factory=list)  # expired, but under legal hold: kept


def retention_days(settings: Settings) -> dict[str, int]:
    """Days of inactivity after which a conversation of each status is purged (0: never)."""
    return {
        "CLOSED": settings.retention_closed_days,
        "ARCHIVED": settings.retention_archived_days,
    }


async def expired_conversations(
    db: Database,
    clock: Clock,
    days_by_status: dict[str, int],
    limit: int = 1000,
    *,
    held: bool = False,
) -> list[uuid.UUID]:
    """Conversations past their status's retention that still hold messages or files, and
    are not under legal hold (`held`: only those that are)."""
    now = clock.now()
    # updated_at moves with every message and every status change (closing, archiving).
    activity = conversations.c.updated_at
    expired = [
        sa.and_(conversations.c.status == status, activity < now - timedelta(days=days))
        for status, days in days_by_status.items()
        if days > 0
    ]
    if not expired:
        return []
    holds_data = sa.or_(
        sa.exists().where(chat_messages.c.conversation_id == conversations.c.id),
        sa.exists().where(chat_files.c.conversation_id == conversations.c.id),
        sa.exists().where(call_recordings.c.room_id.in_(_rooms_of(conversations.c.id))),
    )
    on_hold = legal_holds.active_hold_exists(conversations.c.id)
    query = (
        sa.select(conversations.c.id)
        .where(sa.or_(*expired), holds_data, on_hold if held else sa.not_(on_hold))
        .order_by(conversations.c.id)
        .limit(limit)
    )
    async with db.read() as connection:
        return [row.id for row in await connection.execute(query)]


async def purge_expired(
    db: Database,
    storage: FileStorage,
    clock: Clock,
    audit: AuditTrail,
    days_by_status: dict[str, int],
    *,
    dry_run: bool = False,
) -> PurgeReport:
    """Delete messages and files of expired conversations (or, with dry_run, count them)."""
    report = PurgeReport(dry_run=dry_run)
    report.held = await expired_conversations(db, clock, days_by_status, held=True)
    for conversation_id in await expired_conversations(db, clock, days_by_status):
        if dry_run:
            messages, files = await _count(db, conversation_id)
        else:
            purged = await _purge(db, storage, audit, conversation_id)
            if purged is None:  # a hold was placed since the listing
                report.held.append(conversation_id)
                continue
            messages, files = purged
        report.conversations.append(conversation_id)
        report.messages += messages
        report.files += files
    return report


def _rooms_of(conversation_id: object) -> sa.Select[tuple[uuid.UUID]]:
    # correlate_except: inside expired_conversations' EXISTS, `conversations` is the outer
    # query's row, not a table of this subquery (else any recording anywhere would match).
    return (
        sa.select(video_call_rooms.c.id)
        .where(video_call_rooms.c.conversation_id == conversation_id)
        .correlate_except(video_call_rooms)
    )


def _recordings_of(conversation_id: uuid.UUID) -> sa.Select[tuple[uuid.UUID]]:
    return sa.select(call_recordings.c.id).where(
        call_recordings.c.room_id.in_(_rooms_of(conversation_id))
    )


async def _count(db: Database, conversation_id: uuid.UUID) -> tuple[int, int]:
    async with db.read() as connection:
        messages = await connection.scalar(
            sa.select(sa.func.count()).where(chat_messages.c.conversation_id == conversation_id)
        )
        files = await connection.scalar(
            sa.select(sa.func.count()).where(chat_files.c.conversation_id == conversation_id)
        )
        recordings = await connection.scalar(
            sa.select(sa.func.count()).select_from(_recordings_of(conversation_id).subquery())
        )
    return int(messages or 0), int(files or 0) + int(recordings or 0)


async def _purge(
    db: Database, storage: FileStorage, audit: AuditTrail, conversation_id: uuid.UUID
) -> tuple[int, int] | None:
    """(messages, files) deleted; None, deleting nothing, if the conversation is held."""
    async with db.transaction() as connection:
        # Locked first: a hold placed meanwhile waits for this purge, or this purge sees it.
        await legal_holds.lock_conversation(connection, conversation_id)
        if await legal_holds.is_held(connection, conversation_id):
            return None
        stored = await connection.execute(
            sa.select(chat_files.c.storage_key, chat_files.c.thumbnail_key).where(
                chat_files.c.conversation_id == conversation_id
            )
        )
        file_rows = list(stored)
        keys = [row.storage_key for row in file_rows]
        keys += [row.thumbnail_key for row in file_rows if row.thumbnail_key]
        recording_keys, recordings = await _purge_recordings(connection, conversation_id)
        keys += recording_keys
        messages = await connection.execute(
            chat_messages.delete().where(chat_messages.c.conversation_id == conversation_id)
        )
        await connection.execute(
            chat_files.delete().where(chat_files.c.conversation_id == conversation_id)
        )
        await audit.append(
            connection,
            "retention.purge",
            role="SYSTEM",
            object_type="conversation",
            object_id=conversation_id,
            conversation_id=conversation_id,
            detail=f"{messages.rowcount} messages, {len(file_rows) + recordings} files",
        )
    # After commit: a failure here leaves sealed, unreferenced objects, never dangling rows.
    for key in keys:
        try:
            await storage.delete(key)
        except Exception:
            logger.exception("could not delete a purged file object")
    return int(messages.rowcount), len(file_rows) + recordings


async def _purge_recordings(
    connection: AsyncConnection, conversation_id: uuid.UUID
) -> tuple[list[str], int]:
    """Delete the conversation's call recordings (and their chunks); their object keys.

    The consent trail lives on in the audit log; the rooms keep their times but lose the link.
    """
    recording_ids = list(await connection.scalars(_recordings_of(conversation_id)))
    if not recording_ids:
        return [], 0
    chunk_keys = await connection.scalars(
        sa.select(call_recording_chunks.c.storage_key).where(
            call_recording_chunks.c.recording_id.in_(recording_ids)
        )
    )
    file_keys = await connection.scalars(
        sa.select(call_recordings.c.storage_key).where(
            call_recordings.c.id.in_(recording_ids), call_recordings.c.storage_key.is_not(None)
        )
    )
    keys = [*chunk_keys, *file_keys]
    await connection.execute(
        call_recording_chunks.delete().where(
            call_recording_chunks.c.recording_id.in_(recording_ids)
        )
    )
    await connection.execute(
        call_recordings.delete().where(call_recordings.c.id.in_(recording_ids))
    )
    await connection.execute(
        video_call_rooms.update()
        .where(video_call_rooms.c.conversation_id == conversation_id)
        .values(has_recording=False, recording_url=None)
    )
    return keys, len(recording_ids)
