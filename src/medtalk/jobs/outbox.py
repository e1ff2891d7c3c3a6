"""The transactional outbox: jobs written in the same transaction as the change behind them.

A relay (jobs/relay.py) later claims due rows and hands them to the queue backend, so a crash
between commit and publish loses nothing (the row is still there) and may at worst publish a
job twice (jobs are idempotent).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from medtalk.core.clock import Clock
from medtalk.db.tables import outbox

# A claimed row is hidden this long; if its relay dies, another relay takes it after that.
CLAIM_LEASE = timedelta(seconds=30)


@dataclass(frozen=True)
class Job:
    id: uuid.UUID
    kind: str
    payload: dict[str, Any]
    attempts: int = 0

    def encode(self) -> bytes:
        return json.dumps({"id": str(self.id), "kind": self.kind, "payload": self.payload}).encode()

    @classmethod
    def decode(cls, body: bytes, attempts: int = 0) -> Job:
        data = json.loads(body)
        return cls(uuid.UUID(data["id"]), data["kind"], data["payload"], attempts)


class JobOutbox:
    """What services write to: `await outbox.add(db, kind, payload)` inside their transaction."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._listeners: list[Callable[[], None]] = []

    def on_written(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    async def add(self, db: AsyncConnection, kind: str, payload: dict[str, Any]) -> uuid.UUID:
        job_id = uuid.uuid4()
        now = self._clock.now()
        await db.execute(
            outbox.insert().values(
                id=job_id,
                kind=kind,
                payload=json.dumps(payload),
                status="PENDING",
                attempts=0,
                available_at=now,
                created_at=now,
            )
        )
        return job_id

    async def add_many(
        self, db: AsyncConnection, kind: str, payloads: list[dict[str, Any]]
    ) -> None:
        """Several jobs of one kind in one statement (the group-committed message path)."""
        if not payloads:
            return
        now = self._clock.now()
        rows = [
            {
                "id": uuid.uuid4(),
                "kind": kind,
                "payload": json.dumps(payload),
                "status": "PENDING",
                "attempts": 0,
                "available_at": now,
                "created_at": now,
            }
            for payload in payloads
        ]
        await db.execute(outbox.insert(), rows)

    def kick(self) -> None:
        """Wake the relay after a commit, so jobs start now rather than at the next poll."""
        for listener in self._listeners:
            listener()


async def claim_due(
    db: AsyncConnection, now: datetime, limit: int, *, skip_locked: bool
) -> list[Job]:
    """Take up to `limit` due rows, hiding them from other relays for CLAIM_LEASE."""
    query = (
        sa.select(outbox.c.id, outbox.c.kind, outbox.c.payload, outbox.c.attempts)
        .where(outbox.c.status == "PENDING", outbox.c.available_at <= now)
        .order_by(outbox.c.available_at, outbox.c.created_at)
        .limit(limit)
    )
    if skip_locked:
        query = query.with_for_update(skip_locked=True)
    rows = list(await db.execute(query))
    if rows:
        await db.execute(
            outbox.update()
            .where(outbox.c.id.in_([row.id for row in rows]))
            .values(available_at=now + CLAIM_LEASE)
        )
    return [Job(row.id, row.kind, json.loads(row.payload), row.attempts) for row in rows]


async def finish(db: AsyncConnection, job_id: uuid.UUID) -> None:
    await db.execute(outbox.delete().where(outbox.c.id == job_id))


async def postpone(
    db: AsyncConnection, job_id: uuid.UUID, until: datetime, error: str, *, dead: bool
) -> None:
    await db.execute(
        outbox.update()
        .where(outbox.c.id == job_id)
        .values(
            attempts=outbox.c.attempts + 1,
            available_at=until,
            last_error=error[:300],
            status="DEAD" if dead else "PENDING",
        )
    )


async def pending_count(db: AsyncConnection) -> int:
    query = sa.select(sa.func.count()).select_from(outbox).where(outbox.c.status == "PENDING")
    return int((await db.execute(query)).scalar_one())
