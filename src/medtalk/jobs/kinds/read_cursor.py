"""`record_read`: move a reader's cursor forward, off the reader's request path."""

from __future__ import annotations

import uuid

from medtalk.chat import store as chat_store
from medtalk.core.clock import Clock
from medtalk.db.engine import Database
from medtalk.jobs.registry import JobKind, Payload

RECORD_READ = "record_read"


def kind(db: Database, clock: Clock) -> JobKind:
    async def run(payload: Payload) -> None:
        async with db.transaction() as conn:
            await chat_store.advance_read_cursor(
                conn,
                uuid.UUID(payload["conversationId"]),
                uuid.UUID(payload["userId"]),
                int(payload["seq"]),
                clock.now(),
            )

    return JobKind(RECORD_READ, run)
