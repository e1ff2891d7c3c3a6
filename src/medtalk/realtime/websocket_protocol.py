"""uvicorn's websocket protocol (websockets' sans-I/O layer), minus what it keeps for nothing.

Memory per idle connection (issue 15, bench/README.md): uvicorn holds the handshake's parsed
request and response, both with their header maps, and the scope's copy of the headers for the
connection's whole life, though they are read only until the handshake's answer is sent; and
its queue and event are asyncio's,
which cost about 3 KB per connection while idle (realtime/leanasync.py). `serve` runs this
subclass instead of uvicorn's own (which `ws="auto"` would pick: websockets-sansio), with
uvicorn's own keepalive pings off: engine.io pings every socket already (`SERVE_OPTIONS`).
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from medtalk.realtime.leanasync import LeanEvent, LeanQueue


class LeanWebSocketProtocol(WebSocketsSansIOProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # uvicorn 0.54 uses put_nowait, get and empty of the one, set/clear/wait of the other.
        self.queue = LeanQueue()  # type: ignore[assignment]
        writable = LeanEvent()
        writable.set()
        self.writable = writable  # type: ignore[assignment]

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
            # The scope's header list too: medtalk reads it on the way in only (request id,
            # engine.io's environ, which keeps the two headers a namespace connect reads).
            self.scope["headers"] = []


# uvicorn options for Socket.IO: this protocol, and no websocket-level keepalive pings, which
# would double engine.io's own (pingInterval 25 s, pingTimeout 20 s, which also drop a dead
# peer), costing a timer per socket and, at 20,000 idle sockets, 1,000 ping frames a second.
SERVE_OPTIONS: dict[str, Any] = {"ws": LeanWebSocketProtocol, "ws_ping_interval": None}
