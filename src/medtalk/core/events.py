"""What services announce after a commit; the realtime layer decides how it reaches sockets."""

from __future__ import annotations

import uuid
from typing import Any, Protocol


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
