"""Presence of one node's sockets (embedded defaults: one node is all there is)."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import datetime

from medtalk.core.clock import Clock
from medtalk.realtime.presence.base import Presence, PresenceStatus


class MemoryPresence(Presence):
    def __init__(self, clock: Clock, typing_ttl_seconds: float) -> None:
        self._clock = clock
        self._typing_ttl = typing_ttl_seconds
        self._sockets: dict[uuid.UUID, set[str]] = {}
        self._last_seen: dict[uuid.UUID, datetime] = {}
        self._typing: dict[uuid.UUID, dict[uuid.UUID, float]] = {}

    async def socket_connected(self, user_id: uuid.UUID, sid: str) -> bool:
        sockets = self._sockets.setdefault(user_id, set())
        sockets.add(sid)
        return len(sockets) == 1

    async def socket_disconnected(self, user_id: uuid.UUID, sid: str) -> bool:
        sockets = self._sockets.get(user_id, set())
        if sid not in sockets:
            return False
        sockets.discard(sid)
        self._last_seen[user_id] = self._clock.now()
        if sockets:
            return False
        del self._sockets[user_id]
        return True

    async def status(self, user_id: uuid.UUID) -> PresenceStatus:
        if self._sockets.get(user_id):
            return PresenceStatus(True, self._clock.now())
        return PresenceStatus(False, self._last_seen.get(user_id))

    async def online_among(self, user_ids: Collection[uuid.UUID]) -> set[uuid.UUID]:
        return {user_id for user_id in user_ids if self._sockets.get(user_id)}

    async def set_typing(
        self, conversation_id: uuid.UUID, user_id: uuid.UUID, typing: bool
    ) -> None:
        typists = self._typing.setdefault(conversation_id, {})
        if typing:
            typists[user_id] = self._clock.now().timestamp() + self._typing_ttl
        else:
            typists.pop(user_id, None)

    async def typing(self, conversation_id: uuid.UUID) -> list[uuid.UUID]:
        now = self._clock.now().timestamp()
        typists = self._typing.get(conversation_id, {})
        return [user for user, until in typists.items() if until > now]
