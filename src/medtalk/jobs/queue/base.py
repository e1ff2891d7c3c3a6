"""The job queue interface: the relay publishes outbox jobs, consumers run them."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable

from medtalk.jobs.outbox import Job

JobHandler = Callable[[Job], Awaitable[None]]


class JobQueue(ABC):
    # True when `publish` runs the job itself: its failures are the job's failures (retries,
    # dead letters are then kept in the outbox table).
    runs_inline: bool = False

    async def start(self) -> None:  # noqa: B027 - optional hook
        """Connect; called once before the first publish or consume."""

    @abstractmethod
    async def publish(self, job: Job) -> None:
        """Hand the job on durably; returns only once it is accepted (raises otherwise)."""

    async def consume(self, handler: JobHandler) -> None:  # noqa: B027 - optional hook
        """Run `handler` for every job until closed (worker side)."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Disconnect."""
