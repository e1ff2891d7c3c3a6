"""Background duties of one `serve` node: presence heartbeat/expiry and the message resync."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable

from medtalk.core.tasks import cancel_and_wait
from medtalk.realtime.broadcast import MessageBroadcast
from medtalk.realtime.delivery import Delivery
from medtalk.realtime.presence import Presence

logger = logging.getLogger(__name__)

NewestSeqs = Callable[[list[uuid.UUID]], Awaitable[dict[uuid.UUID, int]]]
WentOffline = Callable[[uuid.UUID], Awaitable[None]]


class NodeTasks:
    def __init__(
        self,
        broadcast: MessageBroadcast,
        delivery: Delivery,
        presence: Presence,
        newest_seqs: NewestSeqs,
        went_offline: WentOffline,
        *,
        heartbeat_seconds: float,
        resync_seconds: float,
    ) -> None:
        self._broadcast = broadcast
        self._delivery = delivery
        self._presence = presence
        self._newest_seqs = newest_seqs
        self._went_offline = went_offline
        self._heartbeat = heartbeat_seconds
        self._resync = resync_seconds
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        await self._broadcast.start(self.resync)
        self._tasks = [
            asyncio.create_task(self._every(self._heartbeat, self._beat), name="presence"),
            asyncio.create_task(self._every(self._resync, self.resync), name="resync"),
        ]

    async def stop(self) -> None:
        await cancel_and_wait(self._tasks)
        await self._broadcast.close()  # presence belongs to the container, closed there

    async def resync(self) -> None:
        """Deliver what this node's sockets missed (fan-out lost while Redis was away)."""
        lowest = self._delivery.lowest_cursors()
        if not lowest:
            return
        newest = await self._newest_seqs(list(lowest))
        for conversation_id, seq in lowest.items():
            if newest.get(conversation_id, 0) > seq:
                await self._delivery.resync(conversation_id)

    async def _beat(self) -> None:
        for user_id in await self._presence.heartbeat():
            await self._went_offline(user_id)

    @staticmethod
    async def _every(seconds: float, action: Callable[[], Awaitable[None]]) -> None:
        while True:
            await asyncio.sleep(seconds)
            try:
                await action()
            except Exception as exc:  # noqa: BLE001 - Redis or the database away: next time
                logger.warning("%s failed (%s)", action.__name__, type(exc).__name__)
