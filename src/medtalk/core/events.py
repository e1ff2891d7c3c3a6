"""What services announce after a commit; the realtime layer decides how it reaches sockets."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Generic, Protocol, TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")


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


class EventBus:
    """The EventSink services publish to. Where sockets exist (`serve`), the realtime layer
    subscribes its sink; the worker and the CLI have no subscriber, so events go nowhere."""

    def __init__(self) -> None:
        self._sinks: list[EventSink] = []

    def subscribe(self, sink: EventSink) -> None:
        self._sinks.append(sink)

    async def message_created(
        self, conversation_id: uuid.UUID, seq: int, payload: dict[str, Any]
    ) -> None:
        for sink in self._sinks:
            await sink.message_created(conversation_id, seq, payload)

    async def to_conversation(
        self, conversation_id: uuid.UUID, event: str, data: dict[str, Any]
    ) -> None:
        for sink in self._sinks:
            await sink.to_conversation(conversation_id, event, data)

    async def to_user(self, user_id: uuid.UUID, event: str, data: dict[str, Any]) -> None:
        for sink in self._sinks:
            await sink.to_user(user_id, event, data)


class Topic(Generic[T]):
    """A typed in-process hook: a service publishes a committed fact, subscribers react.

    A subscriber that fails is logged and never fails the publisher (the fact is committed).
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._handlers: list[Callable[[T], Awaitable[None]]] = []

    def subscribe(self, handler: Callable[[T], Awaitable[None]]) -> None:
        self._handlers.append(handler)

    async def publish(self, value: T) -> None:
        for handler in self._handlers:
            try:
                await handler(value)
            except Exception:
                logger.exception("a subscriber of %s failed", self.name)


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
