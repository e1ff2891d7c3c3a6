"""The jobs themselves, one method per kind, each idempotent (a second run changes nothing).

Effects inside the database record their job key in `job_runs` in the same transaction; the
webhook notification records it right after the POST, and sends the key as Idempotency-Key
so a receiver can drop the rare repeat (a crash between the POST and that record).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from medtalk.core.clock import Clock
from medtalk.db.engine import Database
from medtalk.db.tables import conversations, job_runs, read_cursors
from medtalk.jobs.archive import Archiver
from medtalk.jobs.notifiers import Notifier
from medtalk.jobs.outbox import Job, JobOutbox

logger = logging.getLogger(__name__)

NOTIFY_OFFLINE = "notify_offline"
RECORD_READ = "record_read"
ARCHIVE_CONVERSATION = "archive_conversation"

IsOnline = Callable[[uuid.UUID], Awaitable[bool]]


class JobHandlers:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        outbox: JobOutbox,
        notifier: Notifier,
        archiver: Archiver,
        is_online: IsOnline,
        *,
        archive_after: timedelta,
    ) -> None:
        self._db = db
        self._clock = clock
        self._outbox = outbox
        self._notifier = notifier
        self._archiver = archiver
        self._is_online = is_online
        self._archive_after = archive_after

    async def run(self, job: Job) -> None:
        handler = {
            NOTIFY_OFFLINE: self.notify_offline,
            RECORD_READ: self.record_read,
            ARCHIVE_CONVERSATION: self.archive_conversation,
        }.get(job.kind)
        if handler is None:
            raise ValueError(f"unknown job kind {job.kind!r}")
        await handler(job.payload)

    async def notify_offline(self, payload: dict[str, Any]) -> None:
        """Tell a participant with no connected socket that a message is waiting."""
        key = f"notify:{payload['messageId']}:{payload['recipientId']}"
        async with self._db.read() as db:
            if await _already_done(db, key):
                return
        if not await self._is_online(uuid.UUID(payload["recipientId"])):
            notification = {
                "type": "MESSAGE_WAITING",
                "userId": payload["recipientId"],
                "conversationId": payload["conversationId"],
                "messageId": payload["messageId"],
                "sentAt": payload["sentAt"],
            }
            await self._notifier.message_waiting(notification, key)
        async with self._db.transaction() as db:
            await _record_done(db, key, self._clock)

    async def record_read(self, payload: dict[str, Any]) -> None:
        """Move the reader's cursor forward (never back: a repeat or a late job is harmless)."""
        values = {
            "conversation_id": uuid.UUID(payload["conversationId"]),
            "user_id": uuid.UUID(payload["userId"]),
            "seq": int(payload["seq"]),
            "read_at": self._clock.now(),
        }
        async with self._db.transaction() as db:
            dialect = postgresql if db.dialect.name == "postgresql" else sqlite
            insert = dialect.insert(read_cursors).values(**values)
            await db.execute(
                insert.on_conflict_do_update(
                    index_elements=["conversation_id", "user_id"],
                    set_={"seq": insert.excluded.seq, "read_at": insert.excluded.read_at},
                    where=read_cursors.c.seq < insert.excluded.seq,
                )
            )

    async def archive_conversation(self, payload: dict[str, Any]) -> None:
        await self._archiver.archive(uuid.UUID(payload["conversationId"]))

    async def sweep_closed_conversations(self) -> int:
        """Queue an archive job for each CLOSED conversation idle longer than the age limit."""
        cutoff = self._clock.now() - self._archive_after
        async with self._db.transaction() as db:
            ids = list(
                (
                    await db.execute(
                        sa.select(conversations.c.id)
                        .where(
                            conversations.c.status == "CLOSED", conversations.c.updated_at <= cutoff
                        )
                        .limit(500)
                    )
                ).scalars()
            )
            for conversation_id in ids:
                await self._outbox.add(
                    db, ARCHIVE_CONVERSATION, {"conversationId": str(conversation_id)}
                )
        if ids:
            self._outbox.kick()
        return len(ids)


async def _already_done(db: AsyncConnection, key: str) -> bool:
    query = sa.select(job_runs.c.job_key).where(job_runs.c.job_key == key)
    return (await db.execute(query)).first() is not None


async def _record_done(db: AsyncConnection, key: str, clock: Clock) -> None:
    try:
        async with db.begin_nested():
            await db.execute(job_runs.insert().values(job_key=key, done_at=clock.now()))
    except IntegrityError:
        pass  # a concurrent run recorded it first


async def claim_job_key(db: AsyncConnection, key: str, clock: Clock) -> bool:
    """Inside an effect's transaction: False if the effect was applied already."""
    if await _already_done(db, key):
        return False
    await db.execute(job_runs.insert().values(job_key=key, done_at=clock.now()))
    return True
