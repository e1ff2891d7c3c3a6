"""Message fan-out backends behind one interface, chosen in `create_broadcast`."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from medtalk.core.crypto import KeyRing
from medtalk.realtime.broadcast.base import Deliver, MessageBroadcast
from medtalk.realtime.broadcast.inprocess import InProcessBroadcast
from medtalk.settings import Settings

__all__ = ["InProcessBroadcast", "MessageBroadcast", "create_broadcast"]


def create_broadcast(
    settings: Settings,
    deliver: Deliver,
    keys: KeyRing,
    holds: Callable[[uuid.UUID], bool] | None = None,
) -> MessageBroadcast:
    """`holds` says whether this node has a socket of a conversation: other nodes' messages
    for the rest are not even opened."""
    if settings.redis_url:
        from medtalk.realtime.broadcast.redis import RedisBroadcast

        return RedisBroadcast(
            deliver,
            settings.redis_url,
            settings.redis_prefix,
            settings.node_name,
            keys,
            holds=holds,
        )
    return InProcessBroadcast(deliver)
