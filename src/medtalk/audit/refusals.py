"""Refusals in the audit trail, sampled per client and window (security, issue 16).

Every refused request used to be one chained row: the outside probe added 636 KB with 1,000
refusals at 369 rows a second, so anyone could grow the trail (and its serialized writer)
without limit. Per client (IP address and user) and window, the first `per_window` refusals
are written as rows; the others are only counted, and one `audit.refusals_suppressed` row
with the count is written when the window ends. Only refusals and errors are sampled: an
action that succeeded (every read of health information among them) is always one row.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

logger = logging.getLogger(__name__)

SUMMARY_ACTION = "audit.refusals_suppressed"
ClientKey = tuple[str | None, uuid.UUID | None]  # (IP address, user id)
# Windows kept at once; past this, new clients share one overflow window (still counted).
MAX_CLIENTS = 10_000
OVERFLOW: ClientKey = ("*", None)


@dataclass
class Suppressed:
    """What a summary row says: who, in which window, how many refusals were not written."""

    client_ip: str | None
    actor_id: uuid.UUID | None
    role: str | None
    user_agent: str | None
    window_start: datetime
    count: int = 0


@dataclass
class _Window:
    index: int
    written: int = 0
    suppressed: Suppressed | None = None


class RefusalSampler:
    """Decides which refusals become rows; hands each window's count to `write_summary`."""

    def __init__(
        self,
        per_window: int,
        window_seconds: float,
        write_summary: Callable[[Suppressed], Awaitable[object]],
    ) -> None:
        self.per_window = per_window
        self.window_seconds = window_seconds
        self._write_summary = write_summary
        self._windows: dict[ClientKey, _Window] = {}
        self._current = -1
        self._pending: set[asyncio.Task[None]] = set()

    def admit(
        self,
        now: datetime,
        client_ip: str | None,
        actor_id: uuid.UUID | None,
        role: str | None = None,
        user_agent: str | None = None,
    ) -> bool:
        """True: write this refusal as a row. False: it is counted in the window's summary."""
        if self.per_window <= 0:
            return True
        index = int(now.timestamp() // self.window_seconds)
        if index != self._current:
            self._roll_over(index)
        key: ClientKey = (client_ip, actor_id)
        window = self._windows.get(key)
        if window is None:
            if len(self._windows) >= MAX_CLIENTS:
                key = OVERFLOW
                client_ip, actor_id, role, user_agent = "*", None, None, None
            window = self._windows.setdefault(key, _Window(index))
        if window.written < self.per_window:
            window.written += 1
            return True
        if window.suppressed is None:
            start = datetime.fromtimestamp(index * self.window_seconds, tz=now.tzinfo)
            window.suppressed = Suppressed(client_ip, actor_id, role, user_agent, start)
            self._flush_at_window_end(now, index)
        window.suppressed.count += 1
        return False

    def _roll_over(self, index: int) -> None:
        """A new window: older ones are over; their counts are written, their state dropped."""
        for window in self._windows.values():
            if window.suppressed is not None:
                self._spawn(window.suppressed)
        self._windows.clear()
        self._current = index

    def _flush_at_window_end(self, now: datetime, index: int) -> None:
        """Write the counts when the window ends even if no refusal comes after it."""
        delay = (index + 1) * self.window_seconds - now.timestamp()
        loop = asyncio.get_running_loop()
        loop.call_later(max(delay, 0.0) + 0.05, self._flush_if_still, index)

    def _flush_if_still(self, index: int) -> None:
        if self._current == index:
            self._roll_over(index + 1)

    def _spawn(self, suppressed: Suppressed) -> None:
        task = asyncio.get_running_loop().create_task(self._write(suppressed))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _write(self, suppressed: Suppressed) -> None:
        try:
            await self._write_summary(suppressed)
        except Exception:
            logger.exception("could not write the audit summary of suppressed refusals")
