"""A Web Push service on loopback, as a browser vendor runs one (RFC 8030), for the tests.

`PushService` receives what medtalk POSTs, checks the VAPID JWT (RFC 8292: ES256 signature by
the key in `k=`, `aud` = its own origin, `exp` within 24 h, a `sub` contact) and decrypts the
aes128gcm body (RFC 8291) with the private key of a subscription the test made, as a browser
would. It can answer 410 Gone once for a subscription, as a push service does for one the
browser dropped.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import time
from dataclasses import dataclass, field
from typing import Any

import http_ece
import jwt
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class BrowserSubscription:
    """What a browser's pushManager.subscribe() makes: a key pair and an auth secret."""

    endpoint: str
    private_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    auth: bytes = field(default_factory=lambda: os.urandom(16))

    def wire(self) -> dict[str, Any]:
        point = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return {
            "endpoint": self.endpoint,
            "keys": {"p256dh": b64url(point), "auth": b64url(self.auth)},
        }

    def decrypt(self, body: bytes) -> bytes:
        return bytes(
            http_ece.decrypt(
                body, private_key=self.private_key, auth_secret=self.auth, version="aes128gcm"
            )
        )


@dataclass
class Push:
    subscription: str  # the endpoint's last path segment
    payload: dict[str, Any]
    claims: dict[str, Any]
    vapid_key: str
    headers: dict[str, str]
    received_at: float  # time.monotonic()


class PushService:
    def __init__(self) -> None:
        self.origin = ""
        self.subscriptions: dict[str, BrowserSubscription] = {}
        self.gone_once: set[str] = set()
        self.answered_gone: list[str] = []
        self.pushes: asyncio.Queue[Push] = asyncio.Queue()
        self.problems: list[str] = []
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/push/{name}", self._receive)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.origin = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def subscription(self, name: str) -> BrowserSubscription:
        subscription = BrowserSubscription(f"{self.origin}/push/{name}")
        self.subscriptions[name] = subscription
        return subscription

    async def next(self, timeout: float = 5.0) -> Push:
        return await asyncio.wait_for(self.pushes.get(), timeout)

    async def _receive(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        body = await request.read()
        try:
            claims, key = self._check_vapid(request.headers.get("Authorization", ""))
            assert request.headers.get("Content-Encoding") == "aes128gcm"
            assert request.headers.get("TTL", "").isdigit()
        except Exception as exc:  # noqa: BLE001 - recorded, the test asserts none
            self.problems.append(f"{type(exc).__name__}: {exc}")
            return web.Response(status=401)
        if name in self.gone_once:
            self.gone_once.discard(name)
            self.answered_gone.append(name)
            return web.Response(status=410)
        subscription = self.subscriptions.get(name)
        if subscription is None:
            return web.Response(status=404)
        payload = json.loads(subscription.decrypt(body))
        headers = dict(request.headers)
        await self.pushes.put(Push(name, payload, claims, key, headers, time.monotonic()))
        return web.Response(status=201)

    def _check_vapid(self, authorization: str) -> tuple[dict[str, Any], str]:
        scheme, _, params = authorization.partition(" ")
        assert scheme.lower() == "vapid", authorization
        fields = dict(part.strip().split("=", 1) for part in params.split(","))
        token, key = fields["t"], fields["k"]
        public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(key))
        claims: dict[str, Any] = jwt.decode(
            token,
            public,
            algorithms=["ES256"],
            audience=self.origin,
            options={"require": ["exp", "aud", "sub"]},
        )
        assert claims["exp"] <= time.time() + 24 * 3600, "a VAPID JWT lives 24 h at most"
        assert str(claims["sub"]).startswith(("mailto:", "https://"))
        return claims, key
