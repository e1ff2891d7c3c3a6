"""Web Push (RFC 8030): one encrypted, VAPID-signed POST to a browser's push service.

pywebpush encrypts the payload (aes128gcm, RFC 8291) for the subscription's keys and py-vapid
signs the JWT (RFC 8292); nothing here does cryptography by hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from medtalk.core.clock import Clock
from medtalk.notifications.vapid import VapidKeys

if TYPE_CHECKING:
    import aiohttp

# A VAPID JWT may live 24 h at most (RFC 8292 §2); 12 h leaves room for clock skew.
JWT_LIFETIME_SECONDS = 12 * 3600


@dataclass(frozen=True)
class PushTarget:
    """Where one browser receives pushes: its push service URL and its keys."""

    endpoint: str
    p256dh: str
    auth: str


class PushGone(Exception):  # noqa: N818 - an answer, not a failure
    """The push service no longer knows the subscription (404/410): delete it."""


class PushFailed(RuntimeError):
    """The push service was unreachable or refused for now (the job is retried)."""


class WebPushSender:
    def __init__(self, keys: VapidKeys, subject: str, clock: Clock, *, ttl_seconds: int) -> None:
        self._keys = keys
        self._subject = subject
        self._clock = clock
        self._ttl = ttl_seconds
        self._session: aiohttp.ClientSession | None = None

    @property
    def public_key(self) -> str:
        return self._keys.public_key

    def _vapid_headers(self, endpoint: str) -> dict[str, str]:
        url = urlsplit(endpoint)
        claims = {
            "aud": f"{url.scheme}://{url.netloc}",
            "exp": int(self._clock.now().timestamp()) + JWT_LIFETIME_SECONDS,
            "sub": self._subject,
        }
        headers: dict[str, str] = self._keys.signer.sign(claims)
        return headers

    async def send(self, target: PushTarget, payload: bytes, *, urgent: bool = False) -> None:
        """Encrypt `payload` for `target` and hand it to its push service."""
        # Imported on the first push, not at start: with requests and cryptography's HTTP
        # stack they are about 30 MB that a server without subscribers never uses.
        import aiohttp
        from pywebpush import WebPusher

        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        headers = self._vapid_headers(target.endpoint)
        headers["Urgency"] = "high" if urgent else "normal"
        info = {"endpoint": target.endpoint, "keys": {"p256dh": target.p256dh, "auth": target.auth}}
        pusher = WebPusher(info, aiohttp_session=self._session)
        try:
            response = await pusher.send_async(
                payload, headers, ttl=self._ttl, content_encoding="aes128gcm"
            )
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise PushFailed(type(exc).__name__) from None
        status = int(response.status)
        if status in (404, 410):
            raise PushGone(f"HTTP {status}")
        if status >= 300:
            raise PushFailed(f"HTTP {status}")

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
