"""Per-user rate limits from the spec (30 messages/minute, 20 files/hour): moving windows.

A user may make `amount` requests in any `window`; request number amount+1 is refused until
the oldest of the last `amount` leaves the window (that wait is the 429's Retry-After).

Two stores, the same rule:
- `MemoryWindows` (one node, no Redis): a deque of timestamps per user, trimmed on access;
  no lock, no thread, no task (performance, issue 15: the `limits` library ran an expiry
  pass through `asyncio.to_thread` per key).
- `RedisWindows` (MEDTALK_REDIS_URL, shared by every node): one Lua script per check, on
  Redis's own clock, and checks that arrive while one is in flight go together in one
  pipeline: one round trip per batch of checks, never more than one per check.

If Redis cannot be reached the check lets the request through (logged): chat keeps working
while the limiter's store restarts.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import time
import uuid
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from medtalk.core import metrics
from medtalk.core.errors import RateLimited
from medtalk.settings import Settings

if TYPE_CHECKING:
    import redis.asyncio as aioredis

logger = logging.getLogger(__name__)

MINUTE = 60.0
HOUR = 3600.0


class Windows(Protocol):
    async def hit(self, key: str, amount: int, window: float) -> float:
        """Count one request if the window has room and return 0; else the seconds until it
        has room (nothing counted)."""
        ...


class RateLimiter:
    def __init__(self, windows: Windows, *, messages_per_minute: int, files_per_hour: int) -> None:
        self._windows = windows
        self._messages = messages_per_minute
        self._files = files_per_hour

    async def check_message(self, user_id: uuid.UUID) -> None:
        """Count one message; RateLimited (429) if the user is over the limit."""
        await self._hit(f"messages:{user_id}", self._messages, MINUTE, "messages per minute")

    async def check_file(self, user_id: uuid.UUID) -> None:
        """Count one upload; RateLimited (429) if the user is over the limit."""
        await self._hit(f"files:{user_id}", self._files, HOUR, "files per hour")

    async def _hit(self, key: str, amount: int, window: float, unit: str) -> None:
        try:
            wait = await self._windows.hit(key, amount, window)
        except Exception as exc:  # noqa: BLE001 - the store is down: fail open, say so
            logger.warning("rate limit store unreachable (%s); request allowed", type(exc).__name__)
            return
        if wait <= 0:
            return
        metrics.limit_hit(unit.replace(" ", "-"))
        raise RateLimited(
            f"rate limit reached: {amount} {unit}", retry_after=max(1, math.ceil(wait))
        )


class MemoryWindows:
    """Moving windows in process memory: the timestamps of each key's last `amount` hits."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._hits: dict[str, deque[float]] = {}
        self._next_sweep = 0.0

    async def hit(self, key: str, amount: int, window: float) -> float:
        now = self._clock()
        if now >= self._next_sweep:
            self._sweep(now)
        hits = self._hits.get(key)
        if hits is None:
            hits = self._hits[key] = deque()
        while hits and hits[0] <= now - window:
            hits.popleft()
        if len(hits) >= amount:
            return hits[len(hits) - amount] + window - now
        hits.append(now)
        return 0.0

    def _sweep(self, now: float) -> None:
        """Forget users idle for an hour (the longest window), about once a minute."""
        self._next_sweep = now + MINUTE
        idle = [key for key, hits in self._hits.items() if not hits or hits[-1] <= now - HOUR]
        for key in idle:
            del self._hits[key]


# KEYS[1]: the key; ARGV: amount, window (s). A list of hit times (Redis's clock, µs), newest
# first, at most `amount` long. Returns 0 if counted, else the µs until the window has room.
_HIT = """
local amount = tonumber(ARGV[1])
local window = tonumber(ARGV[2]) * 1000000
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
if redis.call('LLEN', KEYS[1]) >= amount then
  local oldest = tonumber(redis.call('LINDEX', KEYS[1], amount - 1))
  if oldest > now - window then
    return oldest + window - now
  end
end
redis.call('LPUSH', KEYS[1], now)
redis.call('LTRIM', KEYS[1], 0, amount - 1)
redis.call('PEXPIRE', KEYS[1], math.ceil(window / 1000))
return 0
"""


class RedisWindows:
    """Moving windows in Redis; concurrent checks share one pipelined round trip."""

    def __init__(self, client: aioredis.Redis, prefix: str) -> None:
        self._client = client
        self._prefix = prefix
        self._sha = hashlib.sha1(_HIT.encode()).hexdigest()
        self._waiting: list[tuple[str, int, float, asyncio.Future[float]]] = []
        self._flushing = False

    async def hit(self, key: str, amount: int, window: float) -> float:
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._waiting.append((f"{self._prefix}:{key}", amount, window, future))
        if not self._flushing:
            self._flushing = True
            asyncio.get_running_loop().create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, []
                try:
                    results = await self._run(batch)
                except Exception as exc:  # noqa: BLE001 - every caller hears of it
                    for *_, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                for (*_, future), micros in zip(batch, results, strict=True):
                    if not future.done():
                        future.set_result(int(micros) / 1_000_000)
        finally:
            self._flushing = False

    async def _run(self, batch: list[tuple[str, int, float, asyncio.Future[float]]]) -> list[Any]:
        """EVALSHA for each check in one pipeline; the script is loaded only when Redis lacks
        it (first use, or after a restart), then the batch runs again."""
        from redis.exceptions import NoScriptError

        for _ in range(2):
            pipe = self._client.pipeline(transaction=False)
            for key, amount, window, _future in batch:
                pipe.evalsha(self._sha, 1, key, amount, window)
            results: list[Any] = await pipe.execute(raise_on_error=False)
            if not any(isinstance(result, NoScriptError) for result in results):
                break
            await self._client.script_load(_HIT)
        for result in results:
            if isinstance(result, Exception):
                raise result
        return results


def create_rate_limiter(settings: Settings) -> RateLimiter:
    windows: Windows
    if settings.redis_url:
        import redis.asyncio as aioredis  # about 20 MB, imported only when Redis is used

        client = aioredis.Redis.from_url(
            settings.redis_url, socket_timeout=2, socket_connect_timeout=2
        )
        windows = RedisWindows(client, f"{settings.redis_prefix}:ratelimit")
    else:
        windows = MemoryWindows()
    return RateLimiter(
        windows,
        messages_per_minute=settings.rate_messages_per_minute,
        files_per_hour=settings.rate_files_per_hour,
    )
