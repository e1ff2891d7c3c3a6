"""No broker (embedded defaults): the relay runs each outbox job right here."""

from __future__ import annotations

from medtalk.jobs.outbox import Job
from medtalk.jobs.queue.base import JobHandler, JobQueue


class InProcessQueue(JobQueue):
    runs_inline = True

    def __init__(self, handler: JobHandler) -> None:
        self._handler = handler

    async def publish(self, job: Job) -> None:
        await self._handler(job)
