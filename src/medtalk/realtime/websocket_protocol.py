"""uvicorn's websocket protocol (websockets' sans-I/O layer), minus what it keeps for nothing.

Memory per idle connection (issue 15, bench/README.md): uvicorn holds the handshake's parsed
request and response, both with their header maps, for the connection's whole life, though it
reads them only until the handshake's answer is sent. `serve` runs this subclass instead of
uvicorn's own (which `ws="auto"` would pick: websockets-sansio).
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol


class LeanWebSocketProtocol(WebSocketsSansIOProtocol):
    async def send(self, message: Any) -> None:
        await super().send(message)
        if message["type"] == "websocket.accept" and self.handshake_complete:
            # Read only before the accept is sent (uvicorn 0.54: handle_connect, send). The
            # request's headers are emptied too: websockets' parser keeps the request object
            # in its generator's frame, and the scope has its own copy of the headers.
            request = self.__dict__.pop("request", None)
            if request is not None:
                request.headers.clear()
            self.__dict__.pop("response", None)
