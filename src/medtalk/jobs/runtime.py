"""Wires the outbox, the relay, the queue backend and every job kind for `serve` and `worker`.

serve,  no AMQP: relay runs every job in-process (+ sweeps)
serve,  AMQP:    relay publishes portable jobs to RabbitMQ, runs the node's own (scans,
                 assembly) in-process (+ sweeps)
worker, AMQP:    relay (portable jobs only) + consumers + archive sweep
worker, no AMQP: relay runs portable jobs in-process (+ archive sweep)

`job_registry` is the one place where job kinds are registered.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from medtalk.calls.history import CallHistory
from medtalk.core.background import DeadlineLoop
from medtalk.core.clock import Clock
from medtalk.core.retry import RetryPolicy, reconnecting
from medtalk.core.tasks import cancel_and_wait
from medtalk.db.engine import Database
from medtalk.files.service import FileService
from medtalk.files.storage import FileStorage
from medtalk.jobs.kinds import archive, assemble_recording, notify, read_cursor, record_call, scan
from medtalk.jobs.kinds.archive import Archiver
from medtalk.jobs.kinds.notify import NotifyOffline
from medtalk.jobs.notifiers import Notifier, create_notifier
from medtalk.jobs.outbox import JobOutbox
from medtalk.jobs.queue import create_queue
from medtalk.jobs.registry import JobKind, JobRegistry, Sweep
from medtalk.jobs.relay import OutboxRelay
from medtalk.notifications import Notifications
from medtalk.realtime.presence import Presence
from medtalk.recordings.assembler import RecordingAssembler
from medtalk.recordings.service import RecordingService
from medtalk.settings import Settings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class NodeWork:
    """What only a `serve` node can run (it holds the sockets and the tools)."""

    files: FileService
    recordings: RecordingService
    assembler: RecordingAssembler
    call_history: CallHistory


def retry_policy(settings: Settings) -> RetryPolicy:
    return RetryPolicy(settings.job_max_attempts, settings.job_retry_base_seconds)


def job_registry(
    settings: Settings,
    db: Database,
    clock: Clock,
    outbox: JobOutbox,
    notify_offline: NotifyOffline,
    archiver: Archiver,
    node: NodeWork | None,
    notifications: Notifications | None = None,
) -> JobRegistry:
    """Every job kind and sweep, in one place."""
    kinds: list[JobKind] = [
        notify.kind(notify_offline),
        read_cursor.kind(db, clock),
        archive.kind(archiver),
    ]
    archive_after = timedelta(days=settings.archive_after_days)
    sweeps = [archive.sweep(db, clock, outbox, archive_after, settings.archive_sweep_seconds)]
    if notifications is not None:  # issue 18: push, digests, escalation
        kinds.extend(notifications.kinds)
        sweeps.extend(notifications.sweeps)
    if node is not None:
        if node.files.scans is not None:
            kinds.append(scan.kind(node.files.scans.scan))
        kinds.append(assemble_recording.kind(node.assembler))
        kinds.append(record_call.kind(node.call_history))
        sweeps.append(assemble_recording.sweep(node.recordings, settings.recording_poll_seconds))
    return JobRegistry(kinds, sweeps)


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
        node: NodeWork | None = None,
        notifications: Notifications | None = None,
    ) -> None:
        if notifier is None and notifications is not None:
            notifier = notifications.notifier
        self.notifier = notifier or create_notifier(settings)
        self.archiver = Archiver(db, storage, clock)
        notify_offline = NotifyOffline(
            db,
            clock,
            self.notifier,
            presence.is_online,
            cooldown=timedelta(seconds=settings.notify_coalesce_seconds),
        )
        self.registry = job_registry(
            settings, db, clock, outbox, notify_offline, self.archiver, node, notifications
        )
        policy = retry_policy(settings)
        self.queue = create_queue(settings, policy)
        self.relay = OutboxRelay(
            db,
            self.queue,
            self.registry,
            clock,
            policy,
            poll_seconds=settings.outbox_poll_seconds,
            skip_locked=not settings.is_sqlite,
            kinds=self.registry.names(portable_only=node is None),
        )
        outbox.on_written(self.relay.kick)
        self._consume = consume and not self.queue.runs_inline
        self._sweeps = Sweeper(self.registry.sweeps, clock) if consume or node else None
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self._tasks.append(asyncio.create_task(self._connect_then_run(), name="jobs"))
        if self._sweeps is not None:
            self._sweeps.start()

    async def _connect_then_run(self) -> None:
        async for attempt in reconnecting("job queue", first=2.0, most=2.0):
            with attempt:
                await self.queue.start()  # the broker may come up after us
        if self._consume:
            await self.queue.consume(self.registry)
        await self.relay.run()

    async def stop(self) -> None:
        if self._sweeps is not None:
            await self._sweeps.stop()
        await cancel_and_wait(self._tasks)
        with contextlib.suppress(Exception):
            await self.relay.close()
        with contextlib.suppress(Exception):
            await self.queue.close()
        with contextlib.suppress(Exception):
            await self.notifier.close()


class Sweeper(DeadlineLoop):
    """Runs each sweep at its own interval (the first pass at start)."""

    name = "job-sweeps"

    def __init__(self, sweeps: list[Sweep], clock: Clock) -> None:
        super().__init__(clock, min((sweep.every_seconds for sweep in sweeps), default=3600.0))
        self._sweeps = sweeps
        self._due: dict[str, datetime] = {}

    async def run_pass(self) -> datetime | None:
        now = self._clock.now()
        for sweep in self._sweeps:
            if self._due.get(sweep.name, now) > now:
                continue
            self._due[sweep.name] = now + timedelta(seconds=sweep.every_seconds)
            try:
                await sweep.run()
            except Exception as exc:  # noqa: BLE001 - the next pass tries again
                logger.warning("%s failed (%s)", sweep.name, type(exc).__name__)
        return min(self._due.values(), default=None)
