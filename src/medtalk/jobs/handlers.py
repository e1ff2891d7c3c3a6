"""The jobs themselves, one method per kind, each idempotent (a second run changes nothing).

A notification claims its key in `job_runs` before the POST (a second copy of the job that
arrives meanwhile backs off and retries, then finds it done) and marks it done after; the key
goes out as Idempotency-Key, so a receiver can drop the one repeat a runner that dies between
the POST and that mark could cause (its claim expires and the job runs again).
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
# A runner that claimed a job and then vanished is presumed dead after this long.
CLAIM_LEASE = timedelta(seconds=60)


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
        if not await self._claim(key):
            return
        try:
            if not await self._is_online(uuid.UUID(payload["recipientId"])):
                notification = {
                    "type": "MESSAGE_WAITING",
                    "userId": payload["recipientId"],
                    "conversationId": payload["conversationId"],
                    "messageId": payload["messageId"],
                    "sentAt": payload["sentAt"],
                }
                await self._notifier.message_waiting(notification, key)
        except BaseException:
            await self._release(key)
            raise
        async with self._db.transaction() as db:
            await db.execute(
                job_runs.update().where(job_runs.c.job_key == key).values(done_at=self._clock.now())
            )

    async def _claim(self, key: str) -> bool:
        """True if this run may apply the effect; False if it was applied already.

        JobBusy if another run holds a fresh claim (the job is retried later, and then finds
        the effect done, or the claim expired because that runner died).
        """
        now = self._clock.now()
        try:
            async with self._db.transaction() as db:
                query = sa.select(job_runs).where(job_runs.c.job_key == key)
                if db.dialect.name == "postgresql":
                    query = query.with_for_update()
                row = (await db.execute(query)).first()
                if row is None:
                    await db.execute(job_runs.insert().values(job_key=key, claimed_at=now))
                    return True
                if row.done_at is not None:
                    return False
                if row.claimed_at > now - CLAIM_LEASE:
                    raise JobBusy(key)
                await db.execute(
                    job_runs.update().where(job_runs.c.job_key == key).values(claimed_at=now)
                )
                return True
        except IntegrityError:
            raise JobBusy(key) from None  # a concurrent run inserted the claim first

    async def _release(self, key: str) -> None:
        async with self._db.transaction() as db:
            await db.execute(
                job_runs.delete().where(job_runs.c.job_key == key, job_runs.c.done_at.is_(None))
            )

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


class JobBusy(RuntimeError):
    """Another copy of this job is running right now; try again later."""
