"""The job queue interface: the relay publishes outbox jobs, consumers run them."""

from __future__ import annotations

from abc import ABC, abstractmethod

from medtalk.jobs.job import Job
from medtalk.jobs.registry import JobRegistry


class JobQueue(ABC):
    # True when there is no broker: the relay runs every job itself (retries and dead letters
    # are then kept in the outbox table).
    runs_inline: bool = False

    async def start(self) -> None:  # noqa: B027 - optional hook
        """Connect; called once before the first publish or consume."""

    @abstractmethod
    async def publish(self, job: Job) -> None:
        """Hand the job on durably; returns only once it is accepted (raises otherwise)."""

    async def consume(self, registry: JobRegistry) -> None:  # noqa: B027 - optional hook
        """Run every job with the registry's handlers until closed (worker side)."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Disconnect."""
