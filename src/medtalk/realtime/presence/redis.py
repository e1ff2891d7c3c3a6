"""Presence in Redis, shared by every node; entries expire, so a dead node's sockets go away.

    {p}:presence:user:{user}  zset  "{node}/{sid}" -> last heartbeat (epoch seconds)
    {p}:presence:all          zset  "{user}/{node}/{sid}" -> last heartbeat (for expiry)
    {p}:presence:seen:{user}  last time the user was seen (set when a socket goes)
    {p}:typing:{conversation} zset  user -> typing until (epoch seconds)
    {p}:presence:changes      channel: a user id whenever one of their sockets came or went

Each node refreshes its own sockets every ttl/3; any node expires entries older than the TTL
(a ZREM that returns 1 is the claim, so exactly one node reports the user offline).
Redis errors on connect/disconnect/typing are logged (presence is advisory, a socket must not
fail for it); `status` raises Unavailable instead of guessing "offline".

`online_among` is asked once per message batch, inside its transaction (issue 15). So that it
costs no round trip, each node mirrors who is online anywhere: a snapshot when its listener
subscribes to the changes channel, then one ZCOUNT per announced change. While the listener
is not subscribed, the mirror is unknown and `online_among` asks Redis. A change reaches the
mirror a moment after Redis has it: a recipient who left in that moment gets no offline job
for that batch, as one who leaves between the batch and its delivery does not either.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import Counter
from collections.abc import Collection
from datetime import UTC, datetime
from typing import Any

import redis.asyncio as aioredis

from medtalk.core.clock import Clock
from medtalk.core.errors import Unavailable
from medtalk.core.redis import redis_client
from medtalk.core.retry import reconnecting
from medtalk.core.tasks import cancel_and_wait
from medtalk.realtime.presence.base import Presence, PresenceStatus

logger = logging.getLogger(__name__)


class RedisPresence(Presence):
    def __init__(
        self,
        url: str,
        prefix: str,
        node: str,
        clock: Clock,
        *,
        ttl_seconds: float,
        typing_ttl_seconds: float,
    ) -> None:
        self._redis: Any = redis_client(url, decode_responses=True)
        # No read timeout: a subscription waits for as long as nothing changes.
        self._listen_redis: Any = aioredis.Redis.from_url(
            url, decode_responses=True, socket_connect_timeout=2, health_check_interval=5
        )
        self._changes = f"{prefix}:presence:changes"
        # Users with a live socket on any node; None while the listener is not subscribed.
        self._mirror: set[uuid.UUID] | None = None
        self._listener: asyncio.Task[None] | None = None
        self._prefix = prefix
        self._node = node
        self._clock = clock
        self._ttl = ttl_seconds
        self._typing_ttl = typing_ttl_seconds
        self._local: dict[str, uuid.UUID] = {}  # this node's sockets
        self._local_users: Counter[uuid.UUID] = Counter()  # and how many each user has here

    def _user_key(self, user_id: uuid.UUID) -> str:
        return f"{self._prefix}:presence:user:{user_id}"

    def _now(self) -> float:
        return self._clock.now().timestamp()

    async def socket_connected(self, user_id: uuid.UUID, sid: str) -> bool:
        if sid not in self._local:
            self._local_users[user_id] += 1
        self._local[sid] = user_id
        now = self._now()
        self._start_mirror()
        try:
            was_online = await self._count_live(user_id, now) > 0
            await self._touch(user_id, sid, now, announce=True)
        except Exception as exc:  # noqa: BLE001
            logger.warning("presence: redis unreachable (%s)", type(exc).__name__)
            return True
        return not was_online

    async def socket_disconnected(self, user_id: uuid.UUID, sid: str) -> bool:
        if self._local.pop(sid, None) is not None:
            self._local_users[user_id] -= 1
            if self._local_users[user_id] <= 0:
                del self._local_users[user_id]
        now = self._now()
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.zrem(self._user_key(user_id), f"{self._node}/{sid}")
                pipe.zrem(f"{self._prefix}:presence:all", f"{user_id}/{self._node}/{sid}")
                pipe.set(f"{self._prefix}:presence:seen:{user_id}", now, ex=90 * 86400)
                pipe.publish(self._changes, str(user_id))
                await pipe.execute()
            return await self._count_live(user_id, now) == 0
        except Exception as exc:  # noqa: BLE001
            logger.warning("presence: redis unreachable (%s)", type(exc).__name__)
            return True

    async def status(self, user_id: uuid.UUID) -> PresenceStatus:
        now = self._now()
        try:
            live = await self._redis.zrangebyscore(
                self._user_key(user_id), now - self._ttl, "+inf", withscores=True
            )
            seen = await self._redis.get(f"{self._prefix}:presence:seen:{user_id}")
        except Exception as exc:
            # Unknown is not offline: the caller (an API request, a notification job) retries.
            raise Unavailable("presence is unavailable; please retry") from exc
        if live:
            return PresenceStatus(True, _time(max(score for _, score in live)))
        return PresenceStatus(False, _time(float(seen)) if seen else None)

    async def online_among(self, user_ids: Collection[uuid.UUID]) -> set[uuid.UUID]:
        online = {user_id for user_id in user_ids if user_id in self._local_users}
        elsewhere = [user_id for user_id in user_ids if user_id not in online]
        if not elsewhere:
            return online  # no round trip when every recipient is on this node
        self._start_mirror()
        mirror = self._mirror
        if mirror is not None:
            return online | {user_id for user_id in elsewhere if user_id in mirror}
        since = self._now() - self._ttl
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for user_id in elsewhere:
                    pipe.zcount(self._user_key(user_id), since, "+inf")
                counts = await pipe.execute()
        except Exception as exc:
            raise Unavailable("presence is unavailable; please retry") from exc
        return online | {user_id for user_id, n in zip(elsewhere, counts, strict=True) if n}

    async def set_typing(
        self, conversation_id: uuid.UUID, user_id: uuid.UUID, typing: bool
    ) -> None:
        key = f"{self._prefix}:typing:{conversation_id}"
        try:
            if typing:
                async with self._redis.pipeline(transaction=True) as pipe:
                    pipe.zadd(key, {str(user_id): self._now() + self._typing_ttl})
                    pipe.expire(key, int(self._typing_ttl) + 1)
                    await pipe.execute()
            else:
                await self._redis.zrem(key, str(user_id))
        except Exception as exc:  # noqa: BLE001
            logger.warning("typing: redis unreachable (%s)", type(exc).__name__)

    async def typing(self, conversation_id: uuid.UUID) -> list[uuid.UUID]:
        key = f"{self._prefix}:typing:{conversation_id}"
        try:
            users = await self._redis.zrangebyscore(key, self._now(), "+inf")
        except Exception:  # noqa: BLE001
            return []
        return [uuid.UUID(user) for user in users]

    async def heartbeat(self) -> list[uuid.UUID]:
        now = self._now()
        # After a Redis restart this also puts every local socket back.
        for sid, user_id in list(self._local.items()):
            await self._touch(user_id, sid, now)
        return await self._expire(now)

    async def _touch(
        self, user_id: uuid.UUID, sid: str, now: float, *, announce: bool = False
    ) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zadd(self._user_key(user_id), {f"{self._node}/{sid}": now})
            pipe.expire(self._user_key(user_id), int(self._ttl * 4) + 1)
            pipe.zadd(f"{self._prefix}:presence:all", {f"{user_id}/{self._node}/{sid}": now})
            if announce:
                pipe.publish(self._changes, str(user_id))
            added, *_ = await pipe.execute()
        if added and not announce:
            # A heartbeat put back what Redis had lost (a restart): other nodes' mirrors too.
            await self._redis.publish(self._changes, str(user_id))

    async def _expire(self, now: float) -> list[uuid.UUID]:
        everyone = f"{self._prefix}:presence:all"
        stale = await self._redis.zrangebyscore(everyone, "-inf", now - self._ttl, withscores=True)
        gone: list[uuid.UUID] = []
        for member, score in stale:
            if not await self._redis.zrem(everyone, member):
                continue  # another node claimed it
            user, _, node_sid = member.partition("/")
            user_id = uuid.UUID(user)
            await self._redis.zrem(self._user_key(user_id), node_sid)
            seen_key = f"{self._prefix}:presence:seen:{user_id}"
            await self._redis.set(seen_key, score, ex=90 * 86400)
            await self._redis.publish(self._changes, str(user_id))
            if await self._count_live(user_id, now) == 0:
                gone.append(user_id)
        return gone

    async def _count_live(self, user_id: uuid.UUID, now: float) -> int:
        return int(await self._redis.zcount(self._user_key(user_id), now - self._ttl, "+inf"))

    # --- the mirror of who is online on any node ------------------------------------------

    def _start_mirror(self) -> None:
        if self._listener is None:
            self._listener = asyncio.get_running_loop().create_task(
                self._mirror_changes(), name="presence-mirror"
            )

    async def _mirror_changes(self) -> None:
        """Keep the mirror for ever; after a lost connection, resubscribe and snapshot again."""
        async for attempt in reconnecting("presence mirror (Redis)", first=0.1, most=2.0):
            with attempt:
                try:
                    await self._mirror_once()
                finally:
                    self._mirror = None  # not subscribed: online_among asks Redis

    async def _mirror_once(self) -> None:
        pubsub = self._listen_redis.pubsub()
        try:
            await pubsub.subscribe(self._changes)
            async for message in pubsub.listen():
                if message["type"] == "subscribe":
                    # Subscribed before the snapshot: no change falls between the two.
                    self._mirror = await self._snapshot()
                elif message["type"] == "message" and self._mirror is not None:
                    await self._refresh(self._mirror, uuid.UUID(message["data"]))
        finally:
            with contextlib.suppress(Exception):
                await pubsub.aclose()
        raise ConnectionError("the subscription ended")  # listen() ends only on a lost link

    async def _snapshot(self) -> set[uuid.UUID]:
        since = self._now() - self._ttl
        live = await self._redis.zrangebyscore(f"{self._prefix}:presence:all", since, "+inf")
        return {uuid.UUID(member.partition("/")[0]) for member in live}

    async def _refresh(self, mirror: set[uuid.UUID], user_id: uuid.UUID) -> None:
        if await self._count_live(user_id, self._now()):
            mirror.add(user_id)
        else:
            mirror.discard(user_id)

    async def close(self) -> None:
        if self._listener is not None:
            await cancel_and_wait(self._listener)
        await self._listen_redis.aclose()
        await self._redis.aclose()


def _time(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)
