"""One node (embedded defaults): a message goes straight to this node's Delivery."""

from __future__ import annotations

import uuid
from typing import Any

from medtalk.realtime.broadcast.base import MessageBroadcast


class InProcessBroadcast(MessageBroadcast):
    async def publish(self, conversation_id: uuid.UUID, seq: int, payload: dict[str, Any]) -> None:
        await self._deliver(conversation_id, seq, payload)
