"""The per-user moving windows (core/ratelimit.py) in process memory.

The clock is a plain counter the test moves (a test double for time; the windows themselves
are the real code). The Redis store runs against a real Redis in
tests/integration/test_ratelimit_redis.py; the 429 on REST and socket in
tests/integration/test_scale_embedded.py and test_cluster.py.
"""

from __future__ import annotations

import asyncio
import threading
import uuid

import pytest

from medtalk.core.errors import RateLimited
from medtalk.core.ratelimit import MemoryWindows, RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_the_31st_message_within_a_minute_is_refused_until_the_first_leaves() -> None:
    clock = Clock()
    limiter = RateLimiter(MemoryWindows(clock), messages_per_minute=30, files_per_hour=20)
    user = uuid.uuid4()
    for second in range(30):
        clock.now = 1000.0 + second
        await limiter.check_message(user)
    clock.now = 1045.5
    with pytest.raises(RateLimited) as refused:
        await limiter.check_message(user)
    assert refused.value.retry_after == 15  # the first (t=1000) leaves the window at 1060
    await limiter.check_message(uuid.uuid4())  # another user is not affected
    await limiter.check_file(user)  # nor another limit
    clock.now = 1060.0
    await limiter.check_message(user)  # room for exactly one more
    with pytest.raises(RateLimited) as again:
        await limiter.check_message(user)
    assert again.value.retry_after == 1  # the second (t=1001) leaves at 1061


async def test_a_refused_request_is_not_counted() -> None:
    clock = Clock()
    windows = MemoryWindows(clock)
    for _ in range(3):
        assert await windows.hit("k", 3, 60) == 0
    for _ in range(10):
        assert await windows.hit("k", 3, 60) == 60
    clock.now += 60
    assert await windows.hit("k", 3, 60) == 0


async def test_checks_run_on_the_loop_thread_and_idle_users_are_forgotten() -> None:
    clock = Clock()
    windows = MemoryWindows(clock)
    threads_before = threading.active_count()
    await asyncio.gather(*(windows.hit(f"user-{i}", 30, 60) for i in range(1000)))
    assert threading.active_count() == threads_before  # no worker thread, no hop per key
    clock.now += 3601
    await windows.hit("someone", 30, 60)
    assert len(windows._hits) == 1  # only the active user's window is kept
