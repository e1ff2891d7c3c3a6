"""The one clock: services ask it for the time so tests can move time without sleeping."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from datetime import UTC, datetime, timedelta


class Clock:
    """Wall clock in UTC, truncated to milliseconds (the precision we store and send)."""

    def now(self) -> datetime:
        return truncate_ms(datetime.now(UTC))

    async def sleep_until(
        self, moment: datetime, wake: asyncio.Event, *, at_least: float = 0.0
    ) -> None:
        """Return when this clock reaches `moment`, but not before `at_least` real seconds, or
        as soon as `wake` is set."""
        seconds = max(at_least, (moment - self.now()).total_seconds())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), seconds)


class FakeClock(Clock):
    """A clock tests set and advance by hand; its sleepers wake when it passes their time.

    Thread-safe: a test may advance it while the server it was given runs in another thread.
    """

    def __init__(self, start: datetime | None = None) -> None:
        self._now = truncate_ms(start or datetime.now(UTC))
        self._lock = threading.Lock()
        self._sleepers: list[tuple[datetime, asyncio.AbstractEventLoop, asyncio.Event]] = []

    def now(self) -> datetime:
        return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now = truncate_ms(self._now + timedelta(seconds=seconds))
            due = [sleeper for sleeper in self._sleepers if sleeper[0] <= self._now]
        for _, loop, wake in due:
            with contextlib.suppress(RuntimeError):  # that loop has closed (a stopped server)
                loop.call_soon_threadsafe(wake.set)

    async def sleep_until(
        self, moment: datetime, wake: asyncio.Event, *, at_least: float = 0.0
    ) -> None:
        sleeper = (moment, asyncio.get_running_loop(), wake)
        with self._lock:  # against an advance() between the check and the registration
            passed = moment <= self._now
            if not passed:
                self._sleepers.append(sleeper)
        if passed:
            # `at_least` of real time, so a loop whose deadline keeps passing does not spin.
            await super().sleep_until(moment, wake, at_least=at_least)
            return
        try:
            await wake.wait()
        finally:
            with self._lock:
                self._sleepers.remove(sleeper)


def truncate_ms(moment: datetime) -> datetime:
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def iso_z(moment: datetime | None) -> str | None:
    """ISO-8601 UTC with milliseconds and a trailing Z, as JavaScript's toISOString writes it."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    # isoformat, not strftime: about 3x faster, and on every message's wire form.
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def parse_iso(text: str) -> datetime:
    """Parse an ISO-8601 timestamp; naive values are taken as UTC. Raises ValueError."""
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace(" ", "+"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
