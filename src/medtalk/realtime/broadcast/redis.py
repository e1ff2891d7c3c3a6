"""Several nodes: committed messages over a Redis pub/sub channel.

The sending node delivers to its own sockets first, then publishes; every other node's
listener delivers to its sockets. Pub/sub is fire-and-forget: a message lost while Redis is
down is recovered by Delivery's gap-fill on the next message, and by the resync that runs
after every reconnect and periodically (see realtime/node.py). Payloads carry message content,
so they cross Redis sealed with the key ring (AES-256-GCM), as they rest in the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from typing import Any

import redis.asyncio as aioredis

from medtalk.core.crypto import KeyRing
from medtalk.core.redis import redis_client
from medtalk.core.retry import reconnecting
from medtalk.realtime.broadcast.base import Deliver, MessageBroadcast, Resync

logger = logging.getLogger(__name__)


class RedisBroadcast(MessageBroadcast):
    def __init__(self, deliver: Deliver, url: str, prefix: str, node: str, keys: KeyRing) -> None:
        super().__init__(deliver)
        self._keys = keys
        self._redis: Any = redis_client(url)
        self._listen_redis: Any = aioredis.Redis.from_url(
            url, socket_connect_timeout=2, health_check_interval=5
        )
        self._channel = f"{prefix}:messages"
        self._node = node
        self._task: asyncio.Task[None] | None = None

    async def start(self, on_reconnect: Resync) -> None:
        self._task = asyncio.create_task(self._listen(on_reconnect), name="redis-broadcast")

    async def publish(self, conversation_id: uuid.UUID, seq: int, payload: dict[str, Any]) -> None:
        await self._deliver(conversation_id, seq, payload)
        key_id, sealed = self._keys.seal_text(json.dumps(payload), associated=self._channel)
        body = json.dumps(
            {
                "node": self._node,
                "conversationId": str(conversation_id),
                "seq": seq,
                "keyId": key_id,
                "sealed": sealed,
            }
        )
        try:
            await self._redis.publish(self._channel, body)
        except Exception as exc:  # noqa: BLE001 - other nodes catch up by seq
            logger.warning("message fan-out publish failed (%s)", type(exc).__name__)

    async def _listen(self, on_reconnect: Resync) -> None:
        """Listen for ever; after a lost connection, reconnect (core/retry.py) and resync."""
        async for attempt in reconnecting("message fan-out (Redis)", first=0.1, most=2.0):
            with attempt:
                await self._listen_once(on_reconnect, resync=attempt.retry_state.attempt_number > 1)

    async def _listen_once(self, on_reconnect: Resync, *, resync: bool) -> None:
        pubsub = self._listen_redis.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(self._channel)
            if resync:
                logger.info("message fan-out reconnected; resyncing")
                await on_reconnect()
            async for message in pubsub.listen():
                await self._on_message(message)
        finally:
            with contextlib.suppress(Exception):
                await pubsub.aclose()
        raise ConnectionError("the subscription ended")  # listen() ends only on a lost link

    async def _on_message(self, message: dict[str, Any]) -> None:
        if message.get("type") != "message":
            return
        try:
            data = json.loads(message["data"])
            if data["node"] == self._node:
                return  # delivered before publishing
            payload = json.loads(
                self._keys.open_text(data["keyId"], data["sealed"], associated=self._channel)
            )
            await self._deliver(uuid.UUID(data["conversationId"]), int(data["seq"]), payload)
        except Exception:  # noqa: BLE001 - one bad message must not stop the listener
            logger.exception("message fan-out delivery failed")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self._redis.aclose()
        await self._listen_redis.aclose()
