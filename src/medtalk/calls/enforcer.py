"""Ends calls at their maximum duration (and cancels rooms nobody joined before expiry).

Runs as one asyncio task in each `serve` process. State lives in the database, so a restart
loses nothing: the first pass after start re-scans every IN_PROGRESS room. Several nodes may
run it at once; `CallService.finish` lets only one of them end a given call and announce it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from medtalk.calls.service import CallService
from medtalk.core.clock import Clock

logger = logging.getLogger(__name__)

# Upper bound on a sleep: rooms created on another node are noticed within this.
POLL_SECONDS = 30.0
MIN_SLEEP_SECONDS = 0.05


class MaxDurationEnforcer:
    def __init__(self, calls: CallService, clock: Clock, poll_seconds: float = POLL_SECONDS):
        self._calls = calls
        self._clock = clock
        self._poll = poll_seconds
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        calls.on_call_started = self.wake

    def start(self) -> None:
        if self._task is None:
            self._wake = asyncio.Event()  # bound to the running loop
            self._task = asyncio.create_task(self._run(), name="call-max-duration")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def wake(self) -> None:
        """A call started (or a room was created) here: re-plan the next deadline now."""
        self._wake.set()

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            delay = self._poll
            try:
                due = await self._calls.end_overdue_calls()
                if due is not None:
                    wait = (due - self._clock.now()).total_seconds()
                    delay = min(self._poll, max(MIN_SLEEP_SECONDS, wait))
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("max-duration pass failed; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)
