"""Who is online (any connected socket, on any node), when they were last seen, who types."""

from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class PresenceStatus:
    online: bool
    last_seen: datetime | None


class Presence(ABC):
    @abstractmethod
    async def socket_connected(self, user_id: uuid.UUID, sid: str) -> bool:
        """Record a socket; True if the user was offline until now."""

    @abstractmethod
    async def socket_disconnected(self, user_id: uuid.UUID, sid: str) -> bool:
        """Forget a socket; True if that was the user's last one (now offline)."""

    @abstractmethod
    async def status(self, user_id: uuid.UUID) -> PresenceStatus: ...

    async def is_online(self, user_id: uuid.UUID) -> bool:
        return (await self.status(user_id)).online

    async def online_among(self, user_ids: Collection[uuid.UUID]) -> set[uuid.UUID]:
        """Which of `user_ids` have a live socket on some node, in one look (the send path
        asks once per batch). Raises Unavailable when that cannot be known."""
        return {user_id for user_id in user_ids if await self.is_online(user_id)}

    @abstractmethod
    async def set_typing(
        self, conversation_id: uuid.UUID, user_id: uuid.UUID, typing: bool
    ) -> None:
        """Typing state expires by itself (a client that vanishes mid-word stops typing)."""

    @abstractmethod
    async def typing(self, conversation_id: uuid.UUID) -> list[uuid.UUID]: ...

    async def heartbeat(self) -> list[uuid.UUID]:
        """Refresh this node's sockets and expire dead nodes' ones.

        Returns the users that went offline because their sockets expired.
        """
        return []

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""
