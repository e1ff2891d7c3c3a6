"""Per-user rate limits from the spec (30 messages/minute, 20 files/hour), via `limits`.

Counters live in Redis when MEDTALK_REDIS_URL is set (shared by every node), else in memory.
If Redis cannot be reached the check lets the request through (logged): chat keeps working
while the limiter's store restarts.
"""

from __future__ import annotations

import logging
import math
import time
import uuid

from limits import RateLimitItem, RateLimitItemPerHour, RateLimitItemPerMinute
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

from medtalk.core import metrics
from medtalk.core.errors import RateLimited
from medtalk.settings import Settings

logger = logging.getLogger(__name__)


class RateLimiter:
    def __init__(self, storage: Storage, *, messages_per_minute: int, files_per_hour: int) -> None:
        self._limiter = MovingWindowRateLimiter(storage)
        self._messages = RateLimitItemPerMinute(messages_per_minute)
        self._files = RateLimitItemPerHour(files_per_hour)

    async def check_message(self, user_id: uuid.UUID) -> None:
        """Count one message; RateLimited (429) if the user is over the limit."""
        await self._hit(self._messages, "messages", user_id, "messages per minute")

    async def check_file(self, user_id: uuid.UUID) -> None:
        """Count one upload; RateLimited (429) if the user is over the limit."""
        await self._hit(self._files, "files", user_id, "files per hour")

    async def _hit(self, item: RateLimitItem, name: str, user_id: uuid.UUID, unit: str) -> None:
        try:
            if await self._limiter.hit(item, name, str(user_id)):
                return
            stats = await self._limiter.get_window_stats(item, name, str(user_id))
        except Exception as exc:  # noqa: BLE001 - the store is down: fail open, say so
            logger.warning("rate limit store unreachable (%s); request allowed", type(exc).__name__)
            return
        retry_after = max(1, math.ceil(stats.reset_time - time.time()))
        metrics.limit_hit(unit.replace(" ", "-"))
        raise RateLimited(f"rate limit reached: {item.amount} {unit}", retry_after=retry_after)


def create_rate_limiter(settings: Settings) -> RateLimiter:
    storage: Storage
    if settings.redis_url:
        scheme, _, rest = settings.redis_url.partition("://")
        storage = RedisStorage(
            f"async+{scheme}://{rest}",
            implementation="redispy",
            key_prefix=f"{settings.redis_prefix}:ratelimit",
            socket_timeout=2,
            socket_connect_timeout=2,
        )
    else:
        storage = MemoryStorage()
    return RateLimiter(
        storage,
        messages_per_minute=settings.rate_messages_per_minute,
        files_per_hour=settings.rate_files_per_hour,
    )
