"""The Socket.IO edge: only documented client events reach a handler (security, issue 16).

python-socketio dispatches a client's EVENT packet by its name, so `["disconnect"]` from a
client would run the server's own disconnect bookkeeping and `["connect", environ, auth]` would
re-run the handshake with an environ the client chose. `EdgeServer` checks every event packet
before dispatch: reserved names and names not in `CLIENT_EVENTS` are answered with an error
ack (when the client asked for one) and go no further. The real connect and disconnect are
packet types of their own and never pass through here.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

import engineio
import socketio
from engineio.async_socket import AsyncSocket
from socketio import packet

from medtalk.core import metrics
from medtalk.core.errors import Conflict
from medtalk.realtime.leanasync import LeanQueue
from medtalk.realtime.packets import EdgePacket
from medtalk.realtime.websocket_session import LeanWebSocket, ping_later

logger = logging.getLogger(__name__)

# The server's own lifecycle calls; a client naming them is forging.
RESERVED_EVENTS = frozenset({"connect", "disconnect", "connect_error"})
# Every event a client may send on /ws/chat (docs/security.md lists them). A new handler must
# be added here, or the edge refuses its event (tests/integration/test_socket_edge.py checks).
CLIENT_EVENTS = frozenset(
    {
        # chat (spec)
        "join_conversation",
        "leave_conversation",
        "send_message",
        "typing_start",
        "typing_stop",
        "mark_read",
        # sessions (issue 9)
        "refresh_token",
        # calls: WebRTC signaling and quality reports
        "offer",
        "answer",
        "ice_candidate",
        "hangup",
        "call_stats",
        "call_failure",  # media failed after joining (issue 17)
        "call_ice_servers",  # fresh TURN credentials for a long call (issue 17)
        "call_admit",  # the host lets a participant in from the waiting room (issue 17)
        # recording consent (issue 10)
        "recording_request",
        "recording_consent",
        "recording_stop",
    }
)
REFUSAL = {"error": {"code": "EVENT_NOT_ALLOWED", "message": "this event is not accepted"}}
# What a namespace connect reads from the handshake's environ (realtime/events.py: `_client`,
# `_handshake_token`); python-socketio keeps the environ per socket for the socket's lifetime.
HANDSHAKE_ENVIRON_KEYS = frozenset(
    {"asgi.scope", "REMOTE_ADDR", "HTTP_USER_AGENT", "HTTP_AUTHORIZATION"}
)


def accepted_event(data: Any) -> str | None:
    """The event's name if a client may send it, else None."""
    if not isinstance(data, list) or not data:
        return None
    name = data[0]
    if not isinstance(name, str) or name in RESERVED_EVENTS or name not in CLIENT_EVENTS:
        return None
    return name


class LeanEngineIOServer(engineio.AsyncServer):  # type: ignore[misc]
    """engine.io's server, its per-socket send queue a LeanQueue and its websocket transport
    `websocket_session` (memory per idle socket)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The driver table is engine.io's module-level dict: this server gets its own copy.
        drivers: dict[str, Any] = self._async  # type: ignore[has-type]
        self._async = {**drivers, "websocket": LeanWebSocket}

    def start_background_task(self, target: Any, *args: Any, **kwargs: Any) -> Any:
        if getattr(target, "__func__", None) is AsyncSocket._send_ping:
            # A task asleep for the whole ping interval, per socket: a timer instead.
            ping_later(target.__self__)
            return None  # engine.io keeps no handle on its ping task
        return super().start_background_task(target, *args, **kwargs)

    def create_queue(self, *args: Any, **kwargs: Any) -> LeanQueue[Any]:
        # engine.io's sockets use put, put_nowait, get, get_nowait, task_done and join.
        return LeanQueue()


class EdgeServer(socketio.AsyncServer):  # type: ignore[misc]
    """python-socketio's server with the event allow-list applied to every client packet."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("serializer", EdgePacket)  # python-socketio's, its binary check cheap
        super().__init__(*args, **kwargs)

    def _engineio_server_class(self) -> type[engineio.AsyncServer]:
        return LeanEngineIOServer

    async def emit_to_socket(self, sid: str, event: str, data: Any, namespace: str) -> None:
        """`emit(event, data, to=sid, ignore_queue=True)` for one socket of this node, without
        the task and the wait python-socketio's manager makes for every recipient (issue 15:
        delivery is one emit per socket and message, bench/README.md)."""
        eio_sid = self.manager.eio_sid_from_sid(sid, namespace)
        if eio_sid is None:  # gone meanwhile: emit would have found no one either
            return
        event_packet = self.packet_class(packet.EVENT, namespace=namespace, data=[event, data])
        await self._send_packet(eio_sid, event_packet)

    async def _handle_event(self, eio_sid: str, namespace: str | None, id: Any, data: Any) -> None:
        if accepted_event(data) is not None:
            await super()._handle_event(eio_sid, namespace, id, data)
            return
        namespace = namespace or "/"
        name = data[0] if isinstance(data, list) and data else None
        logger.warning("refused socket event %.64r on %s", name, namespace)
        metrics.error("socket", "EVENT_NOT_ALLOWED")
        sid = self.manager.sid_from_eio_sid(eio_sid, namespace)
        if id is not None and sid is not None and self.manager.is_connected(sid, namespace):
            ack = self.packet_class(packet.ACK, namespace=namespace, id=id, data=[REFUSAL])
            await self._send_packet(eio_sid, ack)

    async def _handle_connect(self, eio_sid: str, namespace: str | None, data: Any) -> None:
        """python-socketio's namespace connect, then the handshake environ slimmed in place.

        Memory (issue 15): engine.io's environ holds every request header decoded, the
        handshake's receive/send callables and a class engine.io defines per request (its
        `wsgi.input`); the websocket's own frames keep the same dict alive, so it is cut down
        in place, to what a later connect on this Engine.IO session reads. Engine.IO reads
        nothing from it after the handshake: a websocket has taken its receive/send already,
        and every polling request brings an environ of its own.
        """
        await super()._handle_connect(eio_sid, namespace, data)
        environ = self.environ.get(eio_sid)
        if environ is not None:
            kept = {key: environ[key] for key in HANDSHAKE_ENVIRON_KEYS if key in environ}
            environ.clear()  # frees the dict's table too, which deleting keys would not
            environ.update(kept)


class SocketCap:
    """Open sockets per user on this node; one more than `cap` is refused (0: no cap)."""

    def __init__(self, cap: int = 0) -> None:
        self.cap = cap
        self._open: dict[uuid.UUID, int] = {}

    def check(self, user_id: uuid.UUID) -> None:
        if self.cap and self._open.get(user_id, 0) >= self.cap:
            raise Conflict(
                f"at most {self.cap} connections per user; close another tab or device first",
                code="TOO_MANY_SOCKETS",
            )

    def opened(self, user_id: uuid.UUID) -> None:
        self._open[user_id] = self._open.get(user_id, 0) + 1

    def closed(self, user_id: uuid.UUID) -> None:
        left = self._open.pop(user_id, 0) - 1
        if left > 0:
            self._open[user_id] = left
