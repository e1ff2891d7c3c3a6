"""Presence backends behind one interface, chosen by configuration in `create_presence`."""

from __future__ import annotations

from medtalk.core.clock import Clock
from medtalk.realtime.presence.base import Presence, PresenceStatus
from medtalk.realtime.presence.memory import MemoryPresence
from medtalk.settings import Settings

__all__ = ["MemoryPresence", "Presence", "PresenceStatus", "create_presence"]


def create_presence(settings: Settings, clock: Clock) -> Presence:
    if settings.redis_url:
        from medtalk.realtime.presence.redis import RedisPresence

        return RedisPresence(
            settings.redis_url,
            settings.redis_prefix,
            settings.node_name,
            clock,
            ttl_seconds=settings.presence_ttl_seconds,
            typing_ttl_seconds=settings.typing_ttl_seconds,
        )
    return MemoryPresence(clock, settings.typing_ttl_seconds)
