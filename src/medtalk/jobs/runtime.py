"""Wires the outbox, the relay, the queue backend and the jobs for `serve` and `worker`.

serve,  no AMQP: relay runs jobs in-process (+ archive sweep)
serve,  AMQP:    relay publishes to RabbitMQ (a crash before publish: the row stays)
worker, AMQP:    relay + consumers + archive sweep
worker, no AMQP: relay runs jobs in-process (+ archive sweep)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

from medtalk.core.clock import Clock
from medtalk.db.engine import Database
from medtalk.files.storage import FileStorage
from medtalk.jobs.archive import Archiver
from medtalk.jobs.handlers import JobHandlers
from medtalk.jobs.notifiers import Notifier, create_notifier
from medtalk.jobs.outbox import JobOutbox
from medtalk.jobs.queue import create_queue
from medtalk.jobs.relay import OutboxRelay
from medtalk.realtime.presence import Presence
from medtalk.settings import Settings

logger = logging.getLogger(__name__)
CONNECT_RETRY_SECONDS = 2.0


class JobRuntime:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        storage: FileStorage,
        clock: Clock,
        presence: Presence,
        outbox: JobOutbox,
        *,
        consume: bool,
        notifier: Notifier | None = None,
    ) -> None:
        self.notifier = notifier or create_notifier(settings)
        self.archiver = Archiver(db, storage, clock)
        self.handlers = JobHandlers(
            db,
            clock,
            outbox,
            self.notifier,
            self.archiver,
            presence.is_online,
            archive_after=timedelta(days=settings.archive_after_days),
        )
        self.queue = create_queue(settings, self.handlers.run)
        self.relay = OutboxRelay(
            db,
            self.queue,
            clock,
            poll_seconds=settings.outbox_poll_seconds,
            max_attempts=settings.job_max_attempts,
            retry_base_seconds=settings.job_retry_base_seconds,
            skip_locked=not settings.is_sqlite,
        )
        outbox.on_written(self.relay.kick)
        self._consume = consume and not self.queue.runs_inline
        self._sweep = consume or self.queue.runs_inline
        self._sweep_seconds = settings.archive_sweep_seconds
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self._tasks.append(asyncio.create_task(self._connect_then_run(), name="jobs"))
        if self._sweep:
            self._tasks.append(asyncio.create_task(self._sweep_loop(), name="archive-sweep"))

    async def _connect_then_run(self) -> None:
        while True:
            try:
                await self.queue.start()
                break
            except Exception as exc:  # noqa: BLE001 - the broker may come up after us
                logger.warning("job queue unreachable (%s); retrying", type(exc).__name__)
                await asyncio.sleep(CONNECT_RETRY_SECONDS)
        if self._consume:
            await self.queue.consume(self.handlers.run)
        await self.relay.run()

    async def _sweep_loop(self) -> None:
        while True:
            try:
                await self.handlers.sweep_closed_conversations()
            except Exception as exc:  # noqa: BLE001
                logger.warning("archive sweep failed (%s)", type(exc).__name__)
            await asyncio.sleep(self._sweep_seconds)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        with contextlib.suppress(Exception):
            await self.queue.close()
        with contextlib.suppress(Exception):
            await self.notifier.close()
