"""Offline notifications: tell a participant a message is waiting (never what it says).

LogNotifier (default) writes a log line; WebhookNotifier POSTs JSON to a URL with retries and
an Idempotency-Key, signed with HMAC-SHA256 when a secret is set. Chosen in `create_notifier`.
"""

from __future__ import annotations

import asyncio
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
    def __init__(self, url: str, secret: str, *, tries: int = 3, timeout: float = 5.0) -> None:
        self._url = url
        self._secret = secret.encode()
        self._tries = tries
        self._client = httpx.AsyncClient(timeout=timeout)

    async def message_waiting(self, notification: dict[str, Any], idempotency_key: str) -> None:
        body = json.dumps(notification, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json", "Idempotency-Key": idempotency_key}
        if self._secret:
            digest = hmac.new(self._secret, body, hashlib.sha256).hexdigest()
            headers["X-Medtalk-Signature"] = f"sha256={digest}"
        for attempt in range(1, self._tries + 1):
            try:
                response = await self._client.post(self._url, content=body, headers=headers)
                if response.status_code < 500 and response.status_code != 429:
                    response.raise_for_status()  # a 4xx other than 429 will not get better
                    return
                problem = f"HTTP {response.status_code}"
            except httpx.TransportError as exc:
                problem = type(exc).__name__
            if attempt == self._tries:
                raise RuntimeError(f"webhook failed after {attempt} tries ({problem})")
            await asyncio.sleep(0.5 * 2 ** (attempt - 1))

    async def close(self) -> None:  # noqa: B027 - optional hook
        await self._client.aclose()


def create_notifier(settings: Settings) -> Notifier:
    if settings.notifier == "webhook" and settings.notify_webhook_url:
        return WebhookNotifier(settings.notify_webhook_url, settings.notify_webhook_secret)
    return LogNotifier()
