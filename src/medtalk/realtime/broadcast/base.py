"""How a committed message reaches every node holding sockets of its conversation."""

from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from typing import Any

# Delivery.deliver of this node.
Deliver = Callable[[uuid.UUID, int, dict[str, Any]], Awaitable[None]]
# Called after the backend (re)connects: messages published meanwhile may have been missed.
Resync = Callable[[], Awaitable[None]]


class MessageBroadcast(ABC):
    def __init__(self, deliver: Deliver) -> None:
        self._deliver = deliver

    async def start(self, on_reconnect: Resync) -> None:  # noqa: B027 - optional hook
        """Begin listening for other nodes' messages."""

    @abstractmethod
    async def publish(self, conversation_id: uuid.UUID, seq: int, payload: dict[str, Any]) -> None:
        """Deliver on this node and on every other one; never raises (recovery is by seq)."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Stop listening."""
