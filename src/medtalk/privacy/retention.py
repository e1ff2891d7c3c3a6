"""Retention: purge the messages, files, call recordings, archive and search terms of
conversations closed or archived long enough ago.

The conversation row stays (ids, parties, status, dates: no content) so the audit trail and
other records that name it still resolve. Each purged conversation gets an audit row, written
in the same transaction as the deletion. `purge_expired` is what a scheduler calls.
Conversations under legal hold (legalhold/) are kept, and the report lists them as `held`.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from medtalk.audit import AuditTrail
from medtalk.calls import store as calls_store
from medtalk.chat import store as chat_store
from medtalk.core.clock import Clock
from medtalk.db.engine import Database
from medtalk.files import store as files_store
from medtalk.files.storage import FileStorage
from medtalk.legalhold import store as legal_holds
from medtalk.recordings import store as recordings_store
from medtalk.search.index import SearchIndex
from medtalk.settings import Settings

logger = logging.getLogger(__name__)


@dataclass
class PurgeReport:
    dry_run: bool
    conversations: list[uuid.UUID] = field(default_factory=list)
    messages: int = 0
    files: int = 0  # chat files and call recordings (each recording counts once)
    archives: int = 0  # archive objects (the ARCHIVED conversation's long-term copy)
    # messages whose search terms could not be found (unreadable), so stay in the index
    unindexed: int = 0
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
    conversation = chat_store.CONVERSATION_ID
    holds_data = sa.or_(
        chat_store.has_messages(conversation),
        files_store.of_conversation(conversation),
        recordings_store.in_rooms(calls_store.room_ids_of_conversation(conversation)),
        chat_store.has_archive(conversation),
    )
    on_hold = legal_holds.active_hold_exists(conversation)
    async with db.read() as connection:
        return await chat_store.expired_conversation_ids(
            connection,
            clock.now(),
            days_by_status,
            [holds_data, on_hold if held else sa.not_(on_hold)],
            limit,
        )


@dataclass(frozen=True)
class _Purged:
    messages: int
    files: int
    archives: int = 0
    unindexed: int = 0


async def purge_expired(
    db: Database,
    storage: FileStorage,
    search: SearchIndex,
    clock: Clock,
    audit: AuditTrail,
    days_by_status: dict[str, int],
    *,
    dry_run: bool = False,
) -> PurgeReport:
    """Delete messages, files and search terms of expired conversations (or, with dry_run,
    count them)."""
    report = PurgeReport(dry_run=dry_run)
    report.held = await expired_conversations(db, clock, days_by_status, held=True)
    for conversation_id in await expired_conversations(db, clock, days_by_status):
        if dry_run:
            purged: _Purged | None = await _count(db, conversation_id)
        else:
            purged = await _purge(db, storage, search, audit, conversation_id)
        if purged is None:  # a hold was placed since the listing
            report.held.append(conversation_id)
            continue
        report.conversations.append(conversation_id)
        report.messages += purged.messages
        report.files += purged.files
        report.archives += purged.archives
        report.unindexed += purged.unindexed
    return report


async def _recording_ids(
    connection: AsyncConnection, conversation_id: uuid.UUID
) -> list[uuid.UUID]:
    rooms = calls_store.room_ids_of_conversation(conversation_id)
    return await recordings_store.recording_ids_in_rooms(connection, rooms)


async def _count(db: Database, conversation_id: uuid.UUID) -> _Purged:
    async with db.read() as connection:
        messages = await chat_store.count_messages(connection, conversation_id)
        files = await files_store.count_of_conversation(connection, conversation_id)
        recordings = len(await _recording_ids(connection, conversation_id))
        archived = await connection.scalar(sa.select(chat_store.has_archive(conversation_id)))
    return _Purged(messages, files + recordings, int(bool(archived)))


async def _purge(
    db: Database,
    storage: FileStorage,
    search: SearchIndex,
    audit: AuditTrail,
    conversation_id: uuid.UUID,
) -> _Purged | None:
    """What was deleted; None, deleting nothing, if the conversation is held."""
    async with db.transaction() as connection:
        # Locked first: a hold placed meanwhile waits for this purge, or this purge sees it.
        await legal_holds.lock_conversation(connection, conversation_id)
        if await legal_holds.is_held(connection, conversation_id):
            return None
        # The consent trail lives on in the audit log; the rooms keep their times but lose
        # the link.
        recording_ids = await _recording_ids(connection, conversation_id)
        keys = await recordings_store.delete_recordings(connection, recording_ids)
        if recording_ids:
            await calls_store.clear_recording_links(connection, conversation_id)
        # The terms before the messages: only their words lead back to them.
        unindexed = await search.forget(connection, conversation_id)
        messages = await chat_store.delete_messages(connection, conversation_id)
        # Files after the messages that point at them.
        files, file_keys = await files_store.delete_of_conversation(connection, conversation_id)
        keys += file_keys
        archive_key = await chat_store.delete_archive(connection, conversation_id)
        if archive_key is not None:
            keys.append(archive_key)
        detail = f"{messages} messages, {files + len(recording_ids)} files"
        if archive_key is not None:
            detail += ", the archive"
        await audit.append(
            connection,
            "retention.purge",
            role="SYSTEM",
            object_type="conversation",
            object_id=conversation_id,
            conversation_id=conversation_id,
            detail=detail,
        )
    # After commit: a failure here leaves sealed, unreferenced objects, never dangling rows.
    for key in keys:
        try:
            await storage.delete(key)
        except Exception:
            logger.exception("could not delete a purged file object")
    return _Purged(messages, files + len(recording_ids), int(archive_key is not None), unindexed)
