"""The transactional outbox: jobs written in the same transaction as the change behind them.

A relay (jobs/relay.py) later claims due rows and hands them to the queue backend, so a crash
between commit and publish loses nothing (the row is still there) and may at worst publish a
job twice (jobs are idempotent).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from medtalk.core.clock import Clock
from medtalk.db.together import Write
from medtalk.jobs import store
from medtalk.jobs.job import Job

__all__ = ["Job", "JobOutbox"]


class JobOutbox:
    """What services write to: `await outbox.add(db, kind, payload)` inside their transaction,
    then `outbox.kick()` after the commit."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._listeners: list[Callable[[], None]] = []
        # Set by every write: a commit that wrote no job (most chat messages, whose recipient
        # is online) wakes no relay, so it costs no claim transaction.
        self._written = False

    def on_written(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    async def add(
        self,
        db: AsyncConnection,
        kind: str,
        payload: dict[str, Any],
        *,
        not_before: datetime | None = None,
    ) -> uuid.UUID:
        """One job, run once committed (and not before `not_before`, if given)."""
        (job_id,) = await store.add_jobs(db, kind, [payload], self._clock.now(), not_before)
        self._written = True
        return job_id

    async def add_many(
        self, db: AsyncConnection, kind: str, payloads: list[dict[str, Any]]
    ) -> None:
        """Several jobs of one kind in one statement (the group-committed message path)."""
        if payloads:
            await store.add_jobs(db, kind, payloads, self._clock.now())
            self._written = True

    def coalesced_write(self, kind: str, jobs: dict[str, dict[str, Any]]) -> Write | None:
        """At most one pending job per key (`jobs`: coalesce key -> payload), as a write the
        caller sends with its batch (db/together.py): a key that already waits gets no second
        row (its handler sees everything that is waiting)."""
        if not jobs:
            return None
        self._written = True
        return store.coalesced_write(kind, jobs, self._clock.now())

    def kick(self) -> None:
        """Wake the relay after a commit that wrote jobs, so they start now rather than at the
        next poll."""
        if not self._written:
            return
        self._written = False
        for listener in self._listeners:
            listener()
