"""Several nodes: committed messages over a Redis pub/sub channel.

The sending node queues the message for the other nodes, then delivers to its own sockets;
every other node's listener delivers to its sockets. Pub/sub is fire-and-forget: a message
lost while Redis is down is recovered by Delivery's gap-fill on the next message, and by the
resync that runs after every reconnect and periodically (see realtime/node.py). Payloads carry
message content, so they cross Redis sealed with the key ring (AES-256-GCM), as they rest in
the database.

Per message (issue 15): the sender seals once and queues the frame; whatever the node's tasks
queued meanwhile leaves in one pipelined round trip. A listening node reads the envelope and
opens the content only if it holds a socket of the conversation; it delivers each
conversation in its own task, in order, so one slow conversation does not hold up the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import deque
from collections.abc import Callable
from typing import Any

import orjson
import redis.asyncio as aioredis

from medtalk.core.crypto import KeyRing
from medtalk.core.redis import redis_client
from medtalk.core.retry import reconnecting
from medtalk.core.tasks import cancel_and_wait
from medtalk.realtime.broadcast.base import Deliver, MessageBroadcast, Resync

logger = logging.getLogger(__name__)

# Frames waiting for their round trip while Redis does not answer; past this the oldest go
# (other nodes recover them by seq, as any message lost while Redis is away).
MAX_QUEUED_FRAMES = 10_000

# Whether this node holds a socket of the conversation (Delivery.subscribers > 0).
Holds = Callable[[uuid.UUID], bool]
# A received message waiting for its conversation's turn: seq, key id, sealed payload.
_Sealed = tuple[int, str, str]


class RedisBroadcast(MessageBroadcast):
    def __init__(
        self,
        deliver: Deliver,
        url: str,
        prefix: str,
        node: str,
        keys: KeyRing,
        *,
        holds: Holds | None = None,
    ) -> None:
        super().__init__(deliver)
        self._keys = keys
        self._holds = holds
        self._redis: Any = redis_client(url)
        self._listen_redis: Any = aioredis.Redis.from_url(
            url, socket_connect_timeout=2, health_check_interval=5
        )
        self._channel = f"{prefix}:messages"
        self._node = node
        # The envelope starts with the node's name (orjson keeps key order): own frames are
        # recognized without decoding them.
        self._own_prefix = orjson.dumps({"node": node})[:-1] + b","
        self._task: asyncio.Task[None] | None = None
        self._outgoing: deque[bytes] = deque(maxlen=MAX_QUEUED_FRAMES)
        self._flusher: asyncio.Task[None] | None = None
        self._pending: dict[uuid.UUID, deque[_Sealed]] = {}  # per conversation, in order
        self._delivering: set[asyncio.Task[None]] = set()

    async def start(self, on_reconnect: Resync) -> None:
        self._task = asyncio.create_task(self._listen(on_reconnect), name="redis-broadcast")

    async def publish(self, conversation_id: uuid.UUID, seq: int, payload: dict[str, Any]) -> None:
        # Queued first: the frame leaves while this node's sockets are written to.
        key_id, sealed = self._keys.seal_text(
            orjson.dumps(payload).decode(), associated=self._channel
        )
        frame = {
            "node": self._node,
            "conversationId": str(conversation_id),
            "seq": seq,
            "keyId": key_id,
            "sealed": sealed,
        }
        self._outgoing.append(orjson.dumps(frame))
        if self._flusher is None or self._flusher.done():
            # Starts on the next loop turn: every frame queued until then shares its trip.
            self._flusher = asyncio.create_task(self._flush(), name="redis-broadcast-publish")
        await self._deliver(conversation_id, seq, payload)

    async def _flush(self) -> None:
        """Publish what is queued, one pipeline per round trip, until nothing is."""
        while self._outgoing:
            frames = list(self._outgoing)
            self._outgoing.clear()
            try:
                async with self._redis.pipeline(transaction=False) as pipe:
                    for frame in frames:
                        pipe.publish(self._channel, frame)
                    await pipe.execute()
            except Exception as exc:  # noqa: BLE001 - other nodes catch up by seq
                logger.warning(
                    "message fan-out publish failed for %d messages (%s)",
                    len(frames),
                    type(exc).__name__,
                )

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
                self._on_message(message)
        finally:
            with contextlib.suppress(Exception):
                await pubsub.aclose()
        raise ConnectionError("the subscription ended")  # listen() ends only on a lost link

    def _on_message(self, message: dict[str, Any]) -> None:
        if message.get("type") != "message" or message["data"].startswith(self._own_prefix):
            return  # our own: delivered before publishing
        try:
            data = orjson.loads(message["data"])
            if data["node"] == self._node:
                return
            conversation_id = uuid.UUID(data["conversationId"])
            if self._holds is not None and not self._holds(conversation_id):
                return  # no socket of it here: nothing to open
            self._dispatch(conversation_id, (int(data["seq"]), data["keyId"], data["sealed"]))
        except Exception:  # noqa: BLE001 - one bad message must not stop the listener
            logger.exception("message fan-out delivery failed")

    def _dispatch(self, conversation_id: uuid.UUID, sealed: _Sealed) -> None:
        """Deliver in the conversation's own task: in order within it, concurrently across
        conversations (the listener reads on while sockets are written to)."""
        waiting = self._pending.get(conversation_id)
        if waiting is not None:
            waiting.append(sealed)  # its task is running and will take this one too
            return
        self._pending[conversation_id] = deque([sealed])
        task = asyncio.create_task(self._deliver_in_order(conversation_id))
        self._delivering.add(task)
        task.add_done_callback(self._delivering.discard)

    async def _deliver_in_order(self, conversation_id: uuid.UUID) -> None:
        waiting = self._pending[conversation_id]
        try:
            while waiting:
                seq, key_id, sealed = waiting.popleft()
                try:
                    text = self._keys.open_text(key_id, sealed, associated=self._channel)
                    await self._deliver(conversation_id, seq, orjson.loads(text))
                except Exception:  # noqa: BLE001 - the next message or a resync recovers it
                    logger.exception("message fan-out delivery failed")
        finally:
            del self._pending[conversation_id]  # no await since the last check: none is left

    async def close(self) -> None:
        if self._task is not None:
            await cancel_and_wait(self._task)
        if self._flusher is not None:
            await asyncio.gather(self._flusher, return_exceptions=True)  # what was queued goes
        await cancel_and_wait(list(self._delivering))
        await self._redis.aclose()
        await self._listen_redis.aclose()
