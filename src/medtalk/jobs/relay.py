"""The outbox relay: claims due outbox rows, runs them here or hands them to the broker.

Runs in every `serve` node and in `medtalk worker`; on PostgreSQL relays share the table
with `FOR UPDATE SKIP LOCKED`. A job runs here when there is no broker, or when its kind is
not portable (it needs this node's sockets or tools); otherwise it is published. A row is
deleted only after the broker accepted it (publisher confirm) or its job ran; failures come
back later as the one retry policy says (core/retry.py), then end DEAD.

Jobs that run here run side by side (up to `slots`, 2 by default: enough that a long assembly
does not hold up notifications, few enough that they do not starve the send path of the event
loop and pooled connections; 16 cost a tenfold latency regression, bench/README.md). While
they run the relay keeps their rows claimed, and when it stops it hands back what it did not
finish, so the next start (here or elsewhere) runs them at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Collection
from datetime import timedelta

from medtalk.core import metrics
from medtalk.core.clock import Clock
from medtalk.core.retry import RetryPolicy
from medtalk.core.tasks import cancel_and_wait
from medtalk.db.engine import Database
from medtalk.jobs import store
from medtalk.jobs.job import Job
from medtalk.jobs.queue import JobQueue
from medtalk.jobs.registry import Deferred, JobRegistry

logger = logging.getLogger(__name__)
BATCH = 100
SLOTS = 2
# A claimed row is hidden this long; the relay renews it while the job runs here, and if the
# relay dies another one takes the row after that.
CLAIM_LEASE = timedelta(seconds=30)
# How soon a job is offered again after the broker refused it (it is not the job's fault).
BROKER_RETRY_SECONDS = 2.0


class OutboxRelay:
    def __init__(
        self,
        db: Database,
        queue: JobQueue,
        registry: JobRegistry,
        clock: Clock,
        policy: RetryPolicy,
        *,
        poll_seconds: float,
        skip_locked: bool,
        kinds: Collection[str] | None = None,
        slots: int = SLOTS,
    ) -> None:
        self._db = db
        self._queue = queue
        self._registry = registry
        self._clock = clock
        self._policy = policy
        self._poll = poll_seconds
        self._skip_locked = skip_locked
        self._kinds = kinds  # None: every kind; else only these (a worker: portable ones)
        self._slots = slots
        self._running: dict[asyncio.Task[None], Job] = {}
        self._finished: list[Job] = []  # done here, deleted with the next pass's claim
        self._full = False
        self._renewed = time.monotonic()
        self._wake = asyncio.Event()

    def kick(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        """Relay until cancelled; a database or broker outage only delays work."""
        while True:
            try:
                busy = await self._pass()
                await self._renew_claims()
            except Exception as exc:  # noqa: BLE001 - keep relaying after an outage
                logger.warning("outbox relay pass failed (%s)", type(exc).__name__)
                busy = False
            if not busy:
                self._wake.clear()
                wait = min(self._poll, CLAIM_LEASE.total_seconds() / 3)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), wait)

    async def relay_once(self) -> bool:
        """One batch, waiting for the jobs it runs here; True if there may be more waiting."""
        busy = await self._pass()
        await asyncio.gather(*list(self._running), return_exceptions=True)
        await self._settle_finished()
        return busy

    async def close(self) -> None:
        """Stop the jobs running here and hand their rows back for the next start."""
        running = list(self._running.values())
        await cancel_and_wait(list(self._running))
        await self._settle_finished()
        if running:
            async with self._db.transaction() as db:
                await store.extend(db, [job.id for job in running], self._clock.now())

    # --- one pass -----------------------------------------------------------------------

    async def _pass(self) -> bool:
        free = min(BATCH, self._slots - len(self._running))
        self._full = free <= 0
        if self._full:
            await self._settle_finished()
            return False
        # One transaction: delete what finished since the last pass, claim what is due.
        finished, self._finished = self._finished, []
        async with self._db.transaction() as db:
            await store.finish(db, finished, self._clock.now())
            jobs = await store.claim_due(
                db,
                self._clock.now(),
                free,
                CLAIM_LEASE,
                skip_locked=self._skip_locked,
                kinds=self._kinds,
            )
            metrics.set_job_queue_depth("outbox", await store.pending_count(db))
        for job in finished:
            metrics.job_finished(job.kind)
        published = []
        for job in jobs:
            if self._queue.runs_inline or not self._registry.portable(job.kind):
                task = asyncio.create_task(self._run_here(job), name=f"job-{job.kind}")
                self._running[task] = job
                task.add_done_callback(self._done)
            else:
                published.append(job)
        return await self._publish(published) and len(jobs) == free

    async def _settle_finished(self) -> None:
        finished, self._finished = self._finished, []
        if finished:
            async with self._db.transaction() as db:
                await store.finish(db, finished, self._clock.now())
            for job in finished:
                metrics.job_finished(job.kind)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._running.pop(task, None)
        if self._full or self._finished:
            self.kick()  # a slot is free again, or a finished row waits to be deleted

    async def _renew_claims(self) -> None:
        if not self._running or time.monotonic() - self._renewed < CLAIM_LEASE.total_seconds() / 3:
            return
        self._renewed = time.monotonic()
        async with self._db.transaction() as db:
            ids = [job.id for job in self._running.values()]
            await store.extend(db, ids, self._clock.now() + CLAIM_LEASE)

    async def _run_here(self, job: Job) -> None:
        try:
            await self._registry.run(job)
        except Deferred as deferred:
            await self._postpone(job, deferred)
            return
        except Exception as exc:  # noqa: BLE001 - recorded on the row, retried later
            await self._postpone(job, exc)
            return
        self._finished.append(job)

    async def _publish(self, jobs: list[Job]) -> bool:
        """Hand jobs to the broker; False (the rest put back) when it could not take one.
        What the broker confirmed is deleted in one transaction."""
        confirmed: list[Job] = []
        try:
            for index, job in enumerate(jobs):
                try:
                    await self._queue.publish(job)
                except Exception as exc:  # noqa: BLE001 - the broker is down: not the job's fault
                    # The rest of the batch would only wait out the same timeout, one by one.
                    for waiting in jobs[index:]:
                        await self._postpone(waiting, exc, broker=True)
                    return False
                confirmed.append(job)
            return True
        finally:
            if confirmed:
                async with self._db.transaction() as db:
                    await store.finish(db, confirmed, self._clock.now())

    async def _postpone(self, job: Job, error: Exception, *, broker: bool = False) -> None:
        now = self._clock.now()
        failed = not broker and not isinstance(error, Deferred)
        attempt = job.attempts + 1
        dead = failed and self._policy.exhausted(attempt)
        if isinstance(error, Deferred):
            until = error.until or now + timedelta(seconds=self._policy.delay(1))
        elif broker:
            until = now + timedelta(seconds=min(BROKER_RETRY_SECONDS, self._policy.base_seconds))
        else:
            until = now + timedelta(seconds=self._policy.delay(attempt))
        if failed:
            logger.warning(
                "job %s (%s) failed (%s); %s",
                job.id,
                job.kind,
                type(error).__name__,
                "dead-lettered" if dead else f"retry at {until.isoformat()}",
            )
        if dead:
            metrics.job_dead_lettered(job.kind)
            await self._registry.dead(job)
        elif failed:
            metrics.job_retried(job.kind)
        async with self._db.transaction() as db:
            await store.postpone(db, job.id, until, type(error).__name__, failed=failed, dead=dead)
