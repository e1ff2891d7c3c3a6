"""The background loop (core/background.py) on a FakeClock: it wakes when the test moves time
past its deadline, however the move falls against a pass, so tests never nudge the clock."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from medtalk.core.background import DeadlineLoop
from medtalk.core.clock import FakeClock

POLL_SECONDS = 60.0


class CountingLoop(DeadlineLoop):
    """Counts its passes; the test may hold a pass open to move the clock during it."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(clock, POLL_SECONDS)
        self.seen: list[datetime] = []
        self.hold: asyncio.Event | None = None
        self.in_pass = asyncio.Event()
        self.passed = asyncio.Event()

    async def run_pass(self) -> datetime | None:
        self.seen.append(self._clock.now())
        self.in_pass.set()
        if self.hold is not None:
            await self.hold.wait()
        self.passed.set()
        return None

    async def next_pass(self) -> None:
        self.passed.clear()
        await asyncio.wait_for(self.passed.wait(), 2)


async def test_a_loop_sleeps_until_the_clock_passes_its_poll() -> None:
    clock = FakeClock()
    loop = CountingLoop(clock)
    loop.start()
    try:
        await loop.next_pass()
        clock.advance(POLL_SECONDS - 1)
        await asyncio.sleep(0.1)  # real time passes, the clock's does not: no pass is due
        assert len(loop.seen) == 1
        clock.advance(1)
        await loop.next_pass()
        assert loop.seen[1] - loop.seen[0] == timedelta(seconds=POLL_SECONDS)
    finally:
        await loop.stop()


async def test_a_move_during_a_pass_is_seen_by_the_next_pass_without_another_move() -> None:
    clock = FakeClock()
    loop = CountingLoop(clock)
    loop.hold = asyncio.Event()
    loop.start()
    try:
        await asyncio.wait_for(loop.in_pass.wait(), 2)
        clock.advance(POLL_SECONDS)  # while the pass that saw the old time still runs
        loop.hold.set()
        await loop.next_pass()  # the first pass ends
        await loop.next_pass()  # the next one runs at once: its deadline has passed
        assert loop.seen[1] - loop.seen[0] == timedelta(seconds=POLL_SECONDS)
    finally:
        await loop.stop()


async def test_a_passed_deadline_still_waits_a_little_real_time() -> None:
    clock = FakeClock()
    wake = asyncio.Event()
    started = asyncio.get_running_loop().time()
    await clock.sleep_until(clock.now() - timedelta(seconds=1), wake, at_least=0.05)
    assert asyncio.get_running_loop().time() - started >= 0.04  # no busy loop
