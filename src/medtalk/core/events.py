"""What services announce after a commit; the realtime layer decides how it reaches sockets."""

from __future__ import annotations

import logging
import uuid
from typing import Any, Protocol

logger = logging.getLogger(__name__)


class EventSink(Protocol):
    async def message_created(
        self, conversation_id: uuid.UUID, seq: int, payload: dict[str, Any]
    ) -> None:
        """A committed message (`message_received` payload) for the conversation's sockets."""

    async def to_conversation(
        self, conversation_id: uuid.UUID, event: str, data: dict[str, Any]
    ) -> None:
        """An event for every socket that joined the conversation."""

    async def to_user(self, user_id: uuid.UUID, event: str, data: dict[str, Any]) -> None:
        """An event for every socket of one user, whatever conversation they joined."""


async def announce_to_users(
    events: EventSink, user_ids: set[uuid.UUID], event: str, data: dict[str, Any]
) -> None:
    """Send `event` to each user's sockets. The state is already committed, so a failed
    announcement is logged and never fails the request that caused it."""
    for user_id in user_ids:
        try:
            await events.to_user(user_id, event, data)
        except Exception:
            logger.exception("could not announce %s", event)


class RecordingSink:
    """An EventSink that only records (used where no socket server runs: CLI, unit tests)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, object, dict[str, Any]]] = []

    async def message_created(
        self, conversation_id: uuid.UUID, seq: int, payload: dict[str, Any]
    ) -> None:
        self.events.append(("message_received", conversation_id, payload))

    async def to_conversation(
        self, conversation_id: uuid.UUID, event: str, data: dict[str, Any]
    ) -> None:
        self.events.append((event, conversation_id, data))

    async def to_user(self, user_id: uuid.UUID, event: str, data: dict[str, Any]) -> None:
        self.events.append((event, user_id, data))
