"""Offline notifications: tell a participant a message is waiting (never what it says).

LogNotifier (default) writes a log line; WebhookNotifier POSTs JSON to a URL with an
Idempotency-Key, signed with HMAC-SHA256 when a secret is set. Chosen in `create_notifier`.
A failed POST fails the job, which the job retry policy (core/retry.py) tries again.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from abc import ABC, abstractmethod
from typing import Any

import httpx

from medtalk.settings import Settings

logger = logging.getLogger(__name__)


class Notifier(ABC):
    @abstractmethod
    async def message_waiting(self, notification: dict[str, Any], idempotency_key: str) -> None:
        """Deliver the notification or raise (the job is then retried)."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""


class LogNotifier(Notifier):
    async def message_waiting(self, notification: dict[str, Any], idempotency_key: str) -> None:
        logger.info(
            "offline notification user=%s conversation=%s",
            notification["userId"],
            notification["conversationId"],
        )


class WebhookNotifier(Notifier):
    def __init__(self, url: str, secret: str, *, timeout: float = 5.0) -> None:
        self._url = url
        self._secret = secret.encode()
        self._client = httpx.AsyncClient(timeout=timeout)

    async def message_waiting(self, notification: dict[str, Any], idempotency_key: str) -> None:
        body = json.dumps(notification, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json", "Idempotency-Key": idempotency_key}
        if self._secret:
            digest = hmac.new(self._secret, body, hashlib.sha256).hexdigest()
            headers["X-Medtalk-Signature"] = f"sha256={digest}"
        try:
            response = await self._client.post(self._url, content=body, headers=headers)
        except httpx.TransportError as exc:
            raise WebhookFailed(type(exc).__name__) from None
        if response.status_code >= 400:
            raise WebhookFailed(f"HTTP {response.status_code}")

    async def close(self) -> None:  # noqa: B027 - optional hook
        await self._client.aclose()


class WebhookFailed(RuntimeError):
    """The receiver was unreachable or refused (the job is retried)."""


def create_notifier(settings: Settings) -> Notifier:
    if settings.notifier == "webhook" and settings.notify_webhook_url:
        return WebhookNotifier(settings.notify_webhook_url, settings.notify_webhook_secret)
    return LogNotifier()
