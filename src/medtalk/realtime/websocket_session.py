"""engine.io's websocket transport, run with one task and one timer per socket instead of five.

Memory per idle connection (issue 15, bench/README.md): engine.io's own handler
(`AsyncSocket._websocket_handler`, python-engineio 4) reads in a task of its own wrapped in
`asyncio.wait_for`, writes in a second task whose `wait_for` wraps the queue read in a third,
and sleeps out each ping interval in a fourth: on Python 3.11 each task, `wait_for` and sleep
keeps a frame, a future and a timer, about 4 KB a socket while nothing happens. Here the
handshake's own task reads, one task writes (its queue read unwrapped), and the ping is a
`call_later` timer (`ping_later`, for polling sockets too) that, once a PING is out on a
websocket, waits `ping_timeout` for the PONG. The wire protocol is engine.io's: the same
packets in the same order, the polling-to-websocket upgrade as engine.io does it, and a peer
that stops answering PINGs is closed (engine.io closed it through its `wait_for` timeouts;
here the PONG timer does).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from engineio import exceptions, packet
from engineio.async_drivers.asgi import WebSocket

logger = logging.getLogger(__name__)


class LeanWebSocket(WebSocket):  # type: ignore[misc]
    """engine.io's ASGI websocket, running `websocket_session` for the socket it serves."""

    async def __call__(self, environ: dict[str, Any]) -> str:
        self.asgi_receive = environ["asgi.receive"]
        self.asgi_send = environ["asgi.send"]
        await self.asgi_send({"type": "websocket.accept"})
        # engine.io hands over its socket's bound `_websocket_handler`; its socket runs here.
        await websocket_session(self.handler.__self__, self)
        return ""


async def websocket_session(socket: Any, ws: LeanWebSocket) -> None:
    """One engine.io socket over a websocket, until either side closes (engine.io's loop)."""
    server = socket.server
    if socket.connected:
        if not await _upgrade(socket, ws):
            return
    else:
        socket.connected = True
        socket.upgraded = True
    writer = asyncio.ensure_future(_write(socket, ws))
    try:
        while True:
            try:
                data = await ws.wait()
            except Exception:  # noqa: BLE001 - a disconnect or a broken socket: the end
                break
            if len(data) > server.max_http_buffer_size:
                break
            try:
                await socket.receive(packet.Packet(encoded_packet=data))
            except exceptions.UnknownPacketError:
                pass
            except exceptions.SocketIsClosedError:
                break
            except Exception:
                logger.exception("engine.io receive failed")
    finally:
        socket.queue.put_nowait(None)  # ends the writer
        await writer
        await socket.close(wait=False, abort=True, reason=server.reason.TRANSPORT_CLOSE)


async def _upgrade(socket: Any, ws: LeanWebSocket) -> bool:
    """engine.io's polling-to-websocket upgrade: PING "probe", PONG "probe", UPGRADE."""
    socket.upgrading = True  # packets wait in the queue meanwhile
    try:
        probe = packet.Packet(encoded_packet=await ws.wait())
        if probe.packet_type != packet.PING or probe.data != "probe":
            socket.upgrading = False
            return False
        await ws.send(packet.Packet(packet.PONG, data="probe").encode())
        await socket.queue.put(packet.Packet(packet.NOOP))  # ends the pending poll
        upgrade = packet.Packet(encoded_packet=await ws.wait())
    except OSError:
        socket.upgrading = False
        return False
    socket.upgrading = False
    if upgrade.packet_type != packet.UPGRADE:
        return False
    socket.upgraded = True
    return True


async def _write(socket: Any, ws: LeanWebSocket) -> None:
    queue = socket.queue
    while True:
        item = await queue.get()  # None: the session ended
        queue.task_done()
        if item is None:
            break
        batch = [item]
        while not queue.empty():
            item = queue.get_nowait()
            queue.task_done()
            if item is None:
                queue.put_nowait(None)
                break
            batch.append(item)
        try:
            for outgoing in batch:
                await ws.send(outgoing.encode())
        except Exception:  # noqa: BLE001 - the peer is gone; the reader sees it too
            break
    await ws.close()


def ping_later(socket: Any) -> None:
    """engine.io's `_send_ping` as a timer: a PING `ping_interval` after the last PONG."""
    asyncio.get_running_loop().call_later(socket.server.ping_interval, _ping, socket)


def _ping(socket: Any) -> None:
    if socket.closing or socket.closed:
        return
    socket.last_ping = time.time()
    socket.queue.put_nowait(packet.Packet(packet.PING))
    if socket.upgraded:  # a polling socket's own requests time out without a PONG
        asyncio.get_running_loop().call_later(socket.server.ping_timeout, _pong_overdue, socket)


def _pong_overdue(socket: Any) -> None:
    if socket.closed:  # by engine.io's own ping check, which leaves the writer waiting
        socket.queue.put_nowait(None)
    elif socket.last_ping and time.time() - socket.last_ping >= socket.server.ping_timeout:
        asyncio.ensure_future(_close_silent(socket))  # no PONG: the peer is gone


async def _close_silent(socket: Any) -> None:
    await socket.close(wait=False, abort=True, reason=socket.server.reason.PING_TIMEOUT)
    socket.queue.put_nowait(None)  # the writer closes the websocket, the reader follows
