"""How a committed message reaches the nodes that hold its conversation's sockets.

Messages go through a MessageBroadcast (realtime/broadcast/: in-process, or Redis pub/sub for
several nodes), whose listener calls `Delivery.deliver` on every node. Other events are room
emits; with MEDTALK_REDIS_URL python-socketio's AsyncRedisManager carries them across nodes.
"""

from __future__ import annotations

import uuid
from typing import Any

import socketio

from medtalk.realtime.broadcast import MessageBroadcast

NAMESPACE = "/ws/chat"


def conversation_room(conversation_id: uuid.UUID) -> str:
    return f"conversation:{conversation_id}"


def user_room(user_id: uuid.UUID) -> str:
    return f"user:{user_id}"


class SocketEventSink:
    """The EventSink services publish to: messages through Delivery, the rest through rooms."""

    def __init__(self, sio: socketio.AsyncServer, broadcast: MessageBroadcast) -> None:
        self._sio = sio
        self._broadcast = broadcast

    async def message_created(
        self, conversation_id: uuid.UUID, seq: int, payload: dict[str, Any]
    ) -> None:
        await self._broadcast.publish(conversation_id, seq, payload)

    async def to_conversation(
        self, conversation_id: uuid.UUID, event: str, data: dict[str, Any]
    ) -> None:
        await self._sio.emit(
            event, data, room=conversation_room(conversation_id), namespace=NAMESPACE
        )

    async def to_user(self, user_id: uuid.UUID, event: str, data: dict[str, Any]) -> None:
        await self._sio.emit(event, data, room=user_room(user_id), namespace=NAMESPACE)
