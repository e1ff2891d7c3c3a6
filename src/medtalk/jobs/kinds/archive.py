"""Archiving CLOSED conversations: a gzip'd JSON-lines object in the file store.

The messages stay sealed as stored (AES-GCM per row, key id kept), and the file store seals
the object again. The rows stay in the database, so an ARCHIVED conversation still reads
through the API; the object is the long-term copy (the spec's "chat history archive").

The sweep writes one `archive_conversation` job for each CLOSED conversation idle longer than
the age limit; the job is idempotent (a second run finds the conversation ARCHIVED).
"""

from __future__ import annotations

import gzip
import json
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from medtalk.chat import store as chat_store
from medtalk.core.clock import Clock
from medtalk.db.engine import Database
from medtalk.files.storage import FileStorage
from medtalk.jobs import store as job_store
from medtalk.jobs.outbox import JobOutbox
from medtalk.jobs.registry import JobKind, Payload, Sweep

ARCHIVE_CONVERSATION = "archive_conversation"
PAGE = 500
SWEEP_LIMIT = 500


def archive_key(conversation_id: uuid.UUID) -> str:
    return f"archive{conversation_id.hex}"


class Archiver:
    def __init__(self, db: Database, storage: FileStorage, clock: Clock) -> None:
        self._db = db
        self._storage = storage
        self._clock = clock

    async def archive(self, conversation_id: uuid.UUID) -> bool:
        """Archive one CLOSED conversation; False if there was nothing (more) to do."""
        async with self._db.read() as db:
            if await chat_store.conversation_status(db, conversation_id) != "CLOSED":
                return False  # archived already, reopened, or gone
            lines = [line async for line in _lines(db, conversation_id)]
        blob = gzip.compress("".join(lines).encode(), compresslevel=6)
        storage_key = archive_key(conversation_id)

        async def one_chunk() -> AsyncIterator[bytes]:
            yield blob

        # Same key every run: a repeated job overwrites the object with the same content.
        key_id = await self._storage.put(storage_key, one_chunk())
        now = self._clock.now()
        async with self._db.transaction() as db:
            if await chat_store.conversation_status(db, conversation_id, lock=True) != "CLOSED":
                return False
            await chat_store.insert_archive(
                db, conversation_id, storage_key, key_id, len(lines), now
            )
            await chat_store.set_status(db, conversation_id, "ARCHIVED", now)
            await job_store.record_run(db, f"archive:{conversation_id}", now)
        return True

    async def read(self, conversation_id: uuid.UUID) -> list[dict[str, Any]]:
        """The archived rows (still sealed), for operators and tests."""
        async with self._db.read() as db:
            found = await chat_store.get_archive(db, conversation_id)
        if found is None:
            return []
        storage_key, key_id = found
        blob = b"".join([piece async for piece in self._storage.read(storage_key, key_id)])
        return [json.loads(line) for line in gzip.decompress(blob).decode().splitlines()]


async def _lines(db: AsyncConnection, conversation_id: uuid.UUID) -> AsyncIterator[str]:
    after = 0
    while True:
        rows = await chat_store.stored_messages_after(db, conversation_id, after, PAGE)
        for row in rows:
            yield json.dumps(_record(row), separators=(",", ":")) + "\n"
        if len(rows) < PAGE:
            return
        after = rows[-1]["seq"]


def _record(row: dict[str, Any]) -> dict[str, Any]:
    return {
        key: (str(value) if isinstance(value, uuid.UUID) else value.isoformat())
        if isinstance(value, uuid.UUID) or hasattr(value, "isoformat")
        else value
        for key, value in row.items()
    }


async def sweep_closed_conversations(
    db: Database, clock: Clock, outbox: JobOutbox, archive_after: timedelta
) -> int:
    """Queue an archive job for each CLOSED conversation idle longer than the age limit."""
    async with db.transaction() as conn:
        ids = await chat_store.closed_idle_since(conn, clock.now() - archive_after, SWEEP_LIMIT)
        for conversation_id in ids:
            await outbox.add(conn, ARCHIVE_CONVERSATION, {"conversationId": str(conversation_id)})
    if ids:
        outbox.kick()
    return len(ids)


def kind(archiver: Archiver) -> JobKind:
    async def run(payload: Payload) -> None:
        await archiver.archive(uuid.UUID(payload["conversationId"]))

    return JobKind(ARCHIVE_CONVERSATION, run)


def sweep(
    db: Database, clock: Clock, outbox: JobOutbox, archive_after: timedelta, every_seconds: float
) -> Sweep:
    async def run() -> int:
        return await sweep_closed_conversations(db, clock, outbox, archive_after)

    return Sweep("archive-sweep", run, every_seconds)
