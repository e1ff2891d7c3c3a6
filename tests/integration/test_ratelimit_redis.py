"""The rate limit's Redis store: one moving window shared by every node, one round trip per
batch of checks, and the same 429 as in memory."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from cluster import PrivateRedis
from medtalk.core.errors import RateLimited
from medtalk.core.ratelimit import RateLimiter, RedisWindows


@pytest.fixture
async def redis_url(tmp_path: Path) -> AsyncIterator[str]:
    server = PrivateRedis(tmp_path)  # its own: the test flushes scripts and counts commands
    await asyncio.to_thread(server.start)
    yield server.url
    server.stop()


async def _calls(client: aioredis.Redis) -> dict[str, int]:
    stats = await client.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(row["calls"]) for name, row in stats.items()}


async def test_two_nodes_share_one_window_and_the_31st_is_refused(redis_url: str) -> None:
    node_a, node_b = aioredis.Redis.from_url(redis_url), aioredis.Redis.from_url(redis_url)
    limits = [
        RateLimiter(RedisWindows(client, "t"), messages_per_minute=30, files_per_hour=20)
        for client in (node_a, node_b)
    ]
    user = uuid.uuid4()
    try:
        for index in range(30):
            await limits[index % 2].check_message(user)
        for limiter in limits:
            with pytest.raises(RateLimited) as refused:
                await limiter.check_message(user)
            assert 58 <= refused.value.retry_after <= 60
        await limits[0].check_message(uuid.uuid4())  # other users keep their own window
        await limits[1].check_file(user)  # and other limits
    finally:
        await node_a.aclose()
        await node_b.aclose()


async def test_concurrent_checks_share_round_trips_and_survive_a_script_flush(
    redis_url: str,
) -> None:
    client = aioredis.Redis.from_url(redis_url)
    windows = RedisWindows(client, "t")
    try:
        assert await windows.hit("warm", 5, 60) == 0  # loads the script once
        await client.script_flush()  # as after a Redis restart: the script is gone
        pipelines = 0
        real_pipeline = client.pipeline

        def counted(*args: object, **kwargs: object) -> object:
            nonlocal pipelines
            pipelines += 1
            return real_pipeline(*args, **kwargs)  # type: ignore[arg-type]

        client.pipeline = counted  # type: ignore[method-assign]
        before = await _calls(client)
        waits = await asyncio.gather(*(windows.hit(f"user-{i % 10}", 5, 60) for i in range(100)))
        after = await _calls(client)
        assert sorted(waits)[:50] == [0] * 50  # 10 users x 5 allowed
        assert all(0 < wait <= 60 for wait in sorted(waits)[50:])
        # The first check alone, the 99 that queued behind it together; each refused by
        # NOSCRIPT once, then the script is loaded and the batch runs again.
        assert pipelines <= 4
        assert after["evalsha"] - before.get("evalsha", 0) <= 2 * 100
        assert after.get("script|load", 0) - before.get("script|load", 0) <= 2
        assert "script|exists" not in after  # no extra round trip per pipeline
    finally:
        await client.aclose()


async def test_an_unreachable_redis_lets_requests_through() -> None:
    client = aioredis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=1)
    limiter = RateLimiter(RedisWindows(client, "t"), messages_per_minute=1, files_per_hour=1)
    try:
        for _ in range(3):
            await limiter.check_message(uuid.uuid4())
    finally:
        await client.aclose()
