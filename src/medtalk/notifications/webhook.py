"""The signed webhook: POST the notification as JSON to the platform (its own mobile push).

Every request carries an Idempotency-Key, and an HMAC-SHA256 signature of the body
(`X-Medtalk-Signature: sha256=<hex>`) when a secret is set.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import httpx

from medtalk.notifications.notifier import Notification, Notifier


class WebhookFailed(RuntimeError):
    """The receiver was unreachable or refused (the job is retried)."""


class WebhookNotifier(Notifier):
    def __init__(self, url: str, secret: str, *, timeout: float = 5.0) -> None:
        self._url = url
        self._secret = secret.encode()
        self._client = httpx.AsyncClient(timeout=timeout)

    async def notify(self, notification: Notification, idempotency_key: str) -> None:
        await self.post(notification, idempotency_key)

    async def post(self, body_object: dict[str, Any], idempotency_key: str) -> None:
        body = json.dumps(body_object, separators=(",", ":")).encode()
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

    async def close(self) -> None:
        await self._client.aclose()
