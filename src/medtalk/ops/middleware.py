"""Request telemetry, outermost ASGI layer: request id, one access log line, latency metrics.

Routes are labelled by their template (`/api/v1/chat/conversations/{conversation_id}/messages`),
never by the raw path, so ids do not blow up the number of series or leak into logs.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from medtalk.core import metrics
from medtalk.core.logging import bind_context, current_context

logger = logging.getLogger("medtalk.access")

REQUEST_ID_HEADER = b"x-request-id"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_QUIET_ROUTES = {"/healthz", "/readyz", "/metrics"}


class RequestTelemetry:
    """`websocket_app`: where websocket scopes go, past the HTTP-only layers between (body
    limits, secure headers); each layer would keep a coroutine frame per open socket."""

    def __init__(
        self, app: ASGIApp, *, upload_path: str, websocket_app: ASGIApp | None = None
    ) -> None:
        self.app = app
        self._websocket_app = websocket_app or app
        self._upload_path = upload_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        bind_context(request_id=request_id)
        if scope["type"] == "websocket":
            await self._websocket_app(scope, receive, send)
            return
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [
                    (k, v) for k, v in message.get("headers", []) if k.lower() != REQUEST_ID_HEADER
                ]
                headers.append((REQUEST_ID_HEADER, request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            self._observe(scope, status, time.perf_counter() - started)

    def _observe(self, scope: Scope, status: int, seconds: float) -> None:
        method = scope.get("method", "GET")
        route = route_template(scope)
        metrics.http_request(method, route, status, seconds)
        if route == self._upload_path and method == "POST":
            metrics.upload_finished(metrics.upload_outcome(status))
        level = logging.DEBUG if route in _QUIET_ROUTES and status < 500 else logging.INFO
        if logger.isEnabledFor(level):
            fields: dict[str, object] = {"method": method, "route": route, "status": status}
            fields["latency_ms"] = round(seconds * 1000, 1)
            fields.update(current_context())
            logger.log(level, "%s %s %s", method, route, status, extra=fields)


def route_template(scope: Scope) -> str:
    """The matched route's path template; Socket.IO polling and unmatched paths get one label."""
    route = scope.get("route")
    template = getattr(route, "path", None)
    if isinstance(template, str):
        return template
    if scope.get("path", "").startswith("/socket.io"):
        return "/socket.io/"
    return "unmatched"


def _request_id(scope: Scope) -> str:
    for key, value in scope.get("headers", []):
        if key == REQUEST_ID_HEADER:
            candidate: str = value.decode("latin-1")
            if _VALID_REQUEST_ID.match(candidate):
                return candidate
            break
    return uuid.uuid4().hex
