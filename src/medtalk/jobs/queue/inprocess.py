"""No broker (embedded defaults): the relay runs each outbox job itself."""

from __future__ import annotations

from medtalk.jobs.job import Job
from medtalk.jobs.queue.base import JobQueue


class InProcessQueue(JobQueue):
    runs_inline = True

    async def publish(self, job: Job) -> None:
        raise RuntimeError("no broker: the outbox relay runs jobs itself")
