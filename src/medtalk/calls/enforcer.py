"""Ends calls at their maximum duration (and cancels rooms nobody joined before expiry).

Runs as one asyncio task in each `serve` process. State lives in the database, so a restart
loses nothing: the first pass after start re-scans every IN_PROGRESS room. Several nodes may
run it at once; `CallService.finish` lets only one of them end a given call and announce it.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from medtalk.calls.service import CallService
from medtalk.core.background import DeadlineLoop
from medtalk.core.clock import Clock

# Upper bound on a sleep: rooms created on another node are noticed within this.
POLL_SECONDS = 30.0


class MaxDurationEnforcer(DeadlineLoop):
    name = "call-max-duration"

    def __init__(self, calls: CallService, clock: Clock, poll_seconds: float = POLL_SECONDS):
        super().__init__(clock, poll_seconds)
        self._calls = calls

    async def call_started(self, _room_id: uuid.UUID) -> None:
        """Subscribed to `CallService.call_started`: its deadline may be the next one."""
        self.wake()

    async def run_pass(self) -> datetime | None:
        return await self._calls.end_overdue_calls()
