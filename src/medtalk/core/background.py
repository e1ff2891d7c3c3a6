"""A background loop that runs a pass, then sleeps until the next thing falls due or it is woken.

Passes plan their own next wake-up (`run_pass` returns when something falls due next), so a
deadline minutes away costs no polling, and `wake()` re-plans at once when new work appears.
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from datetime import datetime, timedelta

from medtalk.core.clock import Clock
from medtalk.core.tasks import cancel_and_wait

logger = logging.getLogger(__name__)

MIN_SLEEP_SECONDS = 0.05


class DeadlineLoop(ABC):
    """Subclasses say what one pass does; start/stop/wake and the sleeping are here."""

    name = "background-loop"

    def __init__(self, clock: Clock, poll_seconds: float) -> None:
        self._clock = clock
        self._poll = poll_seconds
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @abstractmethod
    async def run_pass(self) -> datetime | None:
        """Do what is due; return when the next thing falls due (None: nothing planned)."""

    def start(self) -> None:
        if self._task is None:
            self._wake = asyncio.Event()  # bound to the running loop
            self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait(self._task)
            self._task = None

    def wake(self) -> None:
        """New work may be due sooner than planned: run a pass now."""
        self._wake.set()

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            # Planned from the time the pass started: if the clock moved during the pass (a
            # test advancing a FakeClock), the deadline has passed and the next pass runs now.
            started = self._clock.now()
            until = started + timedelta(seconds=self._poll)
            try:
                due = await self.run_pass()
                if due is not None:
                    until = min(until, due)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("%s pass failed; retrying", self.name)
            await self._clock.sleep_until(until, self._wake, at_least=MIN_SLEEP_SECONDS)
