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

from medtalk.core import metrics
from medtalk.core.clock import Clock
from medtalk.db.engine import Database
from medtalk.jobs import outbox
from medtalk.jobs.outbox import Job
from medtalk.jobs.queue import JobQueue

logger = logging.getLogger(__name__)
BATCH = 100
MAX_DELAY_SECONDS = 30.0
# How soon a job is offered again after the broker refused it (it is not the job's fault).
BROKER_RETRY_SECONDS = 2.0


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
            metrics.set_job_queue_depth("outbox", await outbox.pending_count(db))
        for index, job in enumerate(jobs):
            if not await self._hand_on(job):
                # The broker is unreachable: the rest of the batch would only wait out the same
                # timeout, one by one. Put them back for the next pass instead.
                for waiting in jobs[index + 1 :]:
                    await self._postpone(waiting, ConnectionError("broker unreachable"))
                return False
        return len(jobs) == BATCH

    async def _hand_on(self, job: Job) -> bool:
        """Publish (or run) one job; False when the broker could not take it."""
        try:
            await self._queue.publish(job)
        except Exception as exc:  # noqa: BLE001 - recorded on the row, retried later
            await self._postpone(job, exc)
            return self._queue.runs_inline  # an inline failure is the job's, not the broker's
        async with self._db.transaction() as db:
            await outbox.finish(db, job.id)
        if self._queue.runs_inline:
            metrics.job_finished(job.kind)
        return True

    async def _postpone(self, job: Job, error: Exception) -> None:
        # A broker that is down is not the job's fault: only inline runs count toward dead, and
        # only their delay grows; broker outages retry soon, so work resumes when it is back.
        attempt = job.attempts + 1
        dead = self._queue.runs_inline and attempt >= self._max_attempts
        if self._queue.runs_inline:
            delay = min(MAX_DELAY_SECONDS, self._retry_base * 2 ** min(job.attempts, 10))
        else:
            delay = min(BROKER_RETRY_SECONDS, self._retry_base)
        logger.warning(
            "job %s (%s) not done (%s); %s",
            job.id,
            job.kind,
            type(error).__name__,
            "dead-lettered" if dead else f"retry in {delay:.1f}s",
        )
        if dead:
            metrics.job_dead_lettered(job.kind)
        elif self._queue.runs_inline:
            metrics.job_retried(job.kind)
        async with self._db.transaction() as db:
            await outbox.postpone(
                db,
                job.id,
                self._clock.now() + timedelta(seconds=delay),
                type(error).__name__,
                dead=dead,
            )
