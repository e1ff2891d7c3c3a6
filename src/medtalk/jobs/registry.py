"""Job kinds: each kind is one handler (jobs/kinds/*.py), registered in jobs/kinds/__init__.py.

A handler gets the job's payload and either returns (done: the job is deleted), raises
`Deferred` (not due yet, or another run holds it: offered again later, no attempt counted), or
raises anything else (failed: retried by the one retry policy, core/retry.py, then
dead-lettered, and the kind's `dead` hook runs once).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from medtalk.jobs.job import Job

logger = logging.getLogger(__name__)

Payload = dict[str, Any]


class Deferred(Exception):  # noqa: N818 - an outcome, not an error
    """Not a failure: run the job again at `until` (None: after the policy's first delay)."""

    def __init__(self, reason: str, until: datetime | None = None) -> None:
        super().__init__(reason)
        self.until = until


class JobBusy(Deferred):
    """Another copy of this job is running right now; try again later."""


@dataclass(frozen=True)
class JobKind:
    name: str
    run: Callable[[Payload], Awaitable[None]]
    # False: needs this node's socket server or tools (scans, assembly), so it runs in `serve`
    # nodes only, never in `medtalk worker` nor through the broker.
    portable: bool = True
    # Runs once when the job is dead-lettered (e.g. mark a recording FAILED).
    dead: Callable[[Payload], Awaitable[None]] | None = None


@dataclass(frozen=True)
class Sweep:
    """A periodic look for work nobody wrote a job for (age limits, crash leftovers); it only
    writes jobs or makes changes that write them."""

    name: str
    run: Callable[[], Awaitable[object]]
    every_seconds: float


class JobRegistry:
    """Every job kind a process can run, by name."""

    def __init__(self, kinds: Iterable[JobKind], sweeps: Iterable[Sweep] = ()) -> None:
        self._kinds = {kind.name: kind for kind in kinds}
        self.sweeps = list(sweeps)

    def names(self, *, portable_only: bool = False) -> set[str]:
        return {kind.name for kind in self._kinds.values() if kind.portable or not portable_only}

    def portable(self, name: str) -> bool:
        kind = self._kinds.get(name)
        return kind is None or kind.portable

    async def run(self, job: Job) -> None:
        kind = self._kinds.get(job.kind)
        if kind is None:
            raise ValueError(f"unknown job kind {job.kind!r}")
        await kind.run(job.payload)

    async def dead(self, job: Job) -> None:
        """The job failed every attempt: let its kind record that (never raises)."""
        kind = self._kinds.get(job.kind)
        if kind is None or kind.dead is None:
            return
        try:
            await kind.dead(job.payload)
        except Exception:
            logger.exception("job %s (%s): the dead-letter hook failed", job.id, job.kind)
