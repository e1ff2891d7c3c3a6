"""Secure headers on every HTTP response (REST, docs, Socket.IO polling, static files).

HSTS only where the request arrived over https (directly, or via a trusted proxy's
X-Forwarded-Proto, which uvicorn's proxy_headers turns into the scope's scheme). API answers
get a CSP that loads nothing; HTML pages (docs, web client) keep their own CSP if they set one,
and are never framed.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
PAGE_CSP = "frame-ancestors 'none'"


class SecureHeaders:
    def __init__(self, app: ASGIApp, *, hsts_max_age: int) -> None:
        self.app = app
        self._hsts = f"max-age={hsts_max_age}; includeSubDomains" if hsts_max_age > 0 else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        secure = scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("X-Frame-Options", "DENY")
                headers.setdefault("Referrer-Policy", "no-referrer")
                headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
                headers.setdefault("Permissions-Policy", "geolocation=(), payment=()")
                is_html = headers.get("content-type", "").startswith("text/html")
                headers.setdefault("Content-Security-Policy", PAGE_CSP if is_html else API_CSP)
                if secure and self._hsts:
                    headers.setdefault("Strict-Transport-Security", self._hsts)
            await send(message)

        await self.app(scope, receive, send_with_headers)
