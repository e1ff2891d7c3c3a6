"""Archiving CLOSED conversations: a gzip'd JSON-lines object in the file store.

The messages stay sealed as stored (AES-GCM per row, key id kept), and the file store seals
the object again. The rows stay in the database, so an ARCHIVED conversation still reads
through the API; the object is the long-term copy (the spec's "chat history archive").
"""

from __future__ import annotations

import gzip
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import sqlalchemy as sa

from medtalk.core.clock import Clock
from medtalk.db.engine import Database
from medtalk.db.tables import chat_messages, conversation_archives, conversations, job_runs
from medtalk.files.storage import FileStorage

PAGE = 500


def archive_key(conversation_id: uuid.UUID) -> str:
    return f"archive{conversation_id.hex}"


class Archiver:
    def __init__(self, db: Database, storage: FileStorage, clock: Clock) -> None:
        self._db = db
        self._storage = storage
        self._clock = clock

    async def archive(self, conversation_id: uuid.UUID) -> bool:
        """Archive one CLOSED conversation; False if there was nothing (more) to do."""
        job_key = f"archive:{conversation_id}"
        async with self._db.read() as db:
            if await _status(db, conversation_id) != "CLOSED":
                return False  # archived already, reopened, or gone
            lines = [line async for line in self._lines(db, conversation_id)]
        blob = gzip.compress("".join(lines).encode(), compresslevel=6)
        storage_key = archive_key(conversation_id)

        async def one_chunk() -> AsyncIterator[bytes]:
            yield blob

        # Same key every run: a repeated job overwrites the object with the same content.
        key_id = await self._storage.put(storage_key, one_chunk())
        now = self._clock.now()
        async with self._db.transaction() as db:
            if await _status(db, conversation_id, lock=True) != "CLOSED":
                return False
            await db.execute(
                conversation_archives.insert().values(
                    conversation_id=conversation_id,
                    storage_key=storage_key,
                    key_id=key_id,
                    message_count=len(lines),
                    created_at=now,
                )
            )
            await db.execute(
                conversations.update()
                .where(conversations.c.id == conversation_id)
                .values(status="ARCHIVED", updated_at=now)
            )
            await db.execute(job_runs.insert().values(job_key=job_key, claimed_at=now, done_at=now))
        return True

    async def _lines(self, db: Any, conversation_id: uuid.UUID) -> AsyncIterator[str]:
        after = 0
        while True:
            rows = list(
                await db.execute(
                    sa.select(chat_messages)
                    .where(
                        chat_messages.c.conversation_id == conversation_id,
                        chat_messages.c.seq > after,
                    )
                    .order_by(chat_messages.c.seq)
                    .limit(PAGE)
                )
            )
            for row in rows:
                yield json.dumps(_record(row._asdict()), separators=(",", ":")) + "\n"
            if len(rows) < PAGE:
                return
            after = rows[-1].seq

    async def read(self, conversation_id: uuid.UUID) -> list[dict[str, Any]]:
        """The archived rows (still sealed), for operators and tests."""
        async with self._db.read() as db:
            row = (
                await db.execute(
                    sa.select(conversation_archives).where(
                        conversation_archives.c.conversation_id == conversation_id
                    )
                )
            ).first()
        if row is None:
            return []
        blob = b"".join([piece async for piece in self._storage.read(row.storage_key, row.key_id)])
        return [json.loads(line) for line in gzip.decompress(blob).decode().splitlines()]


async def _status(db: Any, conversation_id: uuid.UUID, *, lock: bool = False) -> str | None:
    query = sa.select(conversations.c.status).where(conversations.c.id == conversation_id)
    if lock and db.dialect.name == "postgresql":
        query = query.with_for_update()
    status: str | None = (await db.execute(query)).scalar_one_or_none()
    return status


def _record(row: dict[str, Any]) -> dict[str, Any]:
    return {
        key: (str(value) if isinstance(value, uuid.UUID) else value.isoformat())
        if isinstance(value, uuid.UUID) or hasattr(value, "isoformat")
        else value
        for key, value in row.items()
    }
