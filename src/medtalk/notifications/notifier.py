"""The one interface every notification backend implements, and the log backend.

A notification is a small dict with ids only, never message content:
`{"type": "MESSAGE_WAITING", "userId", "conversationId", "messageId", "sentAt", ...}` (see
docs/notifications.md for every type). A backend delivers it or raises; the job that called it
is then retried by the one retry policy (core/retry.py).
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from typing import Any

logger = logging.getLogger(__name__)

Notification = dict[str, Any]


class Notifier(ABC):
    @abstractmethod
    async def notify(self, notification: Notification, idempotency_key: str) -> None:
        """Deliver the notification (to `notification["userId"]`) or raise."""

    async def message_waiting(self, notification: Notification, idempotency_key: str) -> None:
        """A message waits for a recipient with no live socket (the `notify_offline` job)."""
        await self.notify(notification, idempotency_key)

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""


class LogNotifier(Notifier):
    async def notify(self, notification: Notification, idempotency_key: str) -> None:
        logger.info(
            "notification %s user=%s conversation=%s",
            notification.get("type", "MESSAGE_WAITING"),
            notification["userId"],
            notification.get("conversationId"),
        )
