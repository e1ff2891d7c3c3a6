"""Request body limits per route, enforced at the edge while the body streams (issue 16).

FastAPI reads a JSON body before it resolves dependencies, so authentication comes after the
body is in memory: without a limit here, a 100 MB body with no token is read whole before its
401. Each route gets the limit of its purpose (uploads and recording chunks keep their own,
larger ones); a declared Content-Length over it is refused with 413 before a byte is read, a
body that streams past it (chunked, or lying about its length) is cut there. A body that stops
arriving for `idle_seconds` is refused with 408, so no request waits forever for its body.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass

from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from medtalk.api.errors import error_body
from medtalk.settings import Settings

_ID = r"[^/]+"
RECORDING_CHUNK = re.compile(rf"/api/v1/video-call/rooms/{_ID}/recordings/{_ID}/chunks/{_ID}")
JIBRI_UPLOAD = re.compile(rf"/api/v1/video-call/rooms/{_ID}/recordings/jibri")
SOCKET_IO = re.compile(r"/socket\.io/?")


@dataclass(frozen=True)
class BodyRule:
    """Bodies of `method` requests to paths matching `path` may be `max_bytes` long."""

    method: str
    path: re.Pattern[str]
    max_bytes: int


def route_rules(settings: Settings, *, upload_path: str, upload_max: int) -> list[BodyRule]:
    """The routes whose purpose is a larger body; every other request gets the JSON limit."""
    return [
        BodyRule("POST", re.compile(re.escape(upload_path)), upload_max),
        BodyRule("PUT", RECORDING_CHUNK, settings.recording_chunk_max_bytes),
        BodyRule("POST", JIBRI_UPLOAD, settings.recording_max_bytes),
        # Engine.IO's own check of a polling POST hangs the request (it waits for a poll that
        # never comes to flush its close): refused here first, by the same limit.
        BodyRule("POST", SOCKET_IO, settings.ws_max_message_bytes),
    ]


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is limited to {limit} bytes here")


class BodyTimeout(HTTPException):
    def __init__(self, seconds: float) -> None:
        super().__init__(408, f"the request body stopped arriving for {seconds:g} seconds")


class BodyLimits:
    """ASGI middleware: the first matching rule's limit, else `default_max` bytes."""

    def __init__(
        self, app: ASGIApp, rules: list[BodyRule], *, default_max: int, idle_seconds: float
    ) -> None:
        self.app = app
        self._rules = rules
        self._default_max = default_max
        self._idle_seconds = idle_seconds

    def limit_for(self, method: str, path: str) -> int:
        for rule in self._rules:
            if rule.method == method and rule.path.fullmatch(path):
                return rule.max_bytes
        return self._default_max

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["method"], scope["path"])
        length = dict(scope["headers"]).get(b"content-length", b"")
        if length.isdigit() and int(length) > limit:
            await _refuse(BodyTooLarge(limit), scope, receive, send)
            return
        received, body_done, started = 0, False, False

        async def limited_receive() -> Message:
            nonlocal received, body_done
            if body_done:  # after the body: only http.disconnect is left, however late
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), self._idle_seconds)
            except TimeoutError:
                raise BodyTimeout(self._idle_seconds) from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                body_done = not message.get("more_body", False)
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, watched_send)
        except (BodyTooLarge, BodyTimeout) as error:
            # Raised past the app (FastAPI answers them itself; Engine.IO does not).
            if not started:
                await _refuse(error, scope, receive, send)


async def _refuse(error: HTTPException, scope: Scope, receive: Receive, send: Send) -> None:
    code = "TOO_LARGE" if error.status_code == 413 else "TIMEOUT"
    # No `Connection: close`: closing with the client's body unread resets the connection and
    # can lose this answer; uvicorn discards the rest of a finished request's body unbuffered.
    await JSONResponse(error_body(code, str(error.detail)), status_code=error.status_code)(
        scope, receive, send
    )
