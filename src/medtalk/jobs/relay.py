"""The outbox relay: claims due outbox rows and hands them to the queue backend.

Runs in every `serve` node and in `medtalk worker`; on PostgreSQL relays share the table
with `FOR UPDATE SKIP LOCKED`. A row is deleted only after the queue accepted it (publisher
confirm) or, in-process, after its job ran; failures come back later with a growing delay.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

from medtalk.core.clock import Clock
from medtalk.db.engine import Database
from medtalk.jobs import outbox
from medtalk.jobs.outbox import Job
from medtalk.jobs.queue import JobQueue

logger = logging.getLogger(__name__)
BATCH = 100
MAX_DELAY_SECONDS = 30.0


class OutboxRelay:
    def __init__(
        self,
        db: Database,
        queue: JobQueue,
        clock: Clock,
        *,
        poll_seconds: float,
        max_attempts: int,
        retry_base_seconds: float,
        skip_locked: bool,
    ) -> None:
        self._db = db
        self._queue = queue
        self._clock = clock
        self._poll = poll_seconds
        self._max_attempts = max_attempts
        self._retry_base = retry_base_seconds
        self._skip_locked = skip_locked
        self._wake = asyncio.Event()

    def kick(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        """Relay until cancelled; a database or broker outage only delays work."""
        while True:
            try:
                busy = await self.relay_once()
            except Exception as exc:  # noqa: BLE001 - keep relaying after an outage
                logger.warning("outbox relay pass failed (%s)", type(exc).__name__)
                busy = False
            if not busy:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._poll)

    async def relay_once(self) -> bool:
        """One batch; True if there may be more waiting."""
        async with self._db.transaction() as db:
            jobs = await outbox.claim_due(
                db, self._clock.now(), BATCH, skip_locked=self._skip_locked
            )
        handed_on = [job.id for job in jobs if await self._hand_on(job)]
        if handed_on:
            # One delete for the batch (performance, issue 8): a crash before it only means
            # those jobs run again, which they tolerate (they are idempotent).
            async with self._db.transaction() as db:
                await outbox.finish_many(db, handed_on)
        return len(jobs) == BATCH

    async def _hand_on(self, job: Job) -> bool:
        """Publish (or run) the job; False if it failed and was postponed."""
        try:
            await self._queue.publish(job)
        except Exception as exc:  # noqa: BLE001 - recorded on the row, retried later
            await self._postpone(job, exc)
            return False
        return True

    async def _postpone(self, job: Job, error: Exception) -> None:
        # A broker that is down is not the job's fault: only inline runs count toward dead.
        attempt = job.attempts + 1
        dead = self._queue.runs_inline and attempt >= self._max_attempts
        delay = min(MAX_DELAY_SECONDS, self._retry_base * 2 ** min(job.attempts, 10))
        logger.warning(
            "job %s (%s) not done (%s); %s",
            job.id,
            job.kind,
            type(error).__name__,
            "dead-lettered" if dead else f"retry in {delay:.1f}s",
        )
        async with self._db.transaction() as db:
            await outbox.postpone(
                db,
                job.id,
                self._clock.now() + timedelta(seconds=delay),
                type(error).__name__,
                dead=dead,
            )
