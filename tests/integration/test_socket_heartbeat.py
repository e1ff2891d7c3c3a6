"""engine.io's heartbeat on medtalk's websocket transport (realtime/websocket_session.py):
a peer that answers PINGs stays, one that stops is closed within the ping timeout."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
import socketio
import uvicorn
import websockets

from medtalk.realtime.edge import EdgeServer
from medtalk.realtime.websocket_protocol import SERVE_OPTIONS
from world import free_port

INTERVAL, TIMEOUT = 0.4, 0.4


@pytest.fixture
async def server() -> AsyncIterator[tuple[EdgeServer, str]]:
    sio = EdgeServer(async_mode="asgi", ping_interval=INTERVAL, ping_timeout=TIMEOUT)
    port = free_port()
    config = uvicorn.Config(
        socketio.ASGIApp(sio), host="127.0.0.1", port=port, log_level="warning", **SERVE_OPTIONS
    )
    runner = uvicorn.Server(config)
    task = asyncio.create_task(runner.serve())
    while not runner.started:  # noqa: ASYNC110 - uvicorn.Server has no started event
        await asyncio.sleep(0.01)
    yield sio, f"ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket"
    runner.should_exit = True
    await task


async def test_a_peer_answering_pings_stays_connected(server: tuple[EdgeServer, str]) -> None:
    sio, url = server
    async with websockets.connect(url) as ws:
        assert (await ws.recv()).startswith("0{")  # OPEN
        pings = 0
        deadline = time.monotonic() + 4 * (INTERVAL + TIMEOUT)
        while time.monotonic() < deadline:
            frame = await asyncio.wait_for(ws.recv(), INTERVAL + TIMEOUT + 1)
            if frame == "2":
                pings += 1
                await ws.send("3")
        assert pings >= 3
        assert len(sio.eio.sockets) == 1


async def test_a_peer_that_stops_answering_is_closed(server: tuple[EdgeServer, str]) -> None:
    sio, url = server
    async with websockets.connect(url) as ws:
        assert (await ws.recv()).startswith("0{")
        assert await ws.recv() == "2"
        await ws.send("3")  # one answer: the next PING comes from medtalk's timer
        assert await asyncio.wait_for(ws.recv(), INTERVAL + 1) == "2"
        started = time.monotonic()
        with pytest.raises(websockets.ConnectionClosed):
            while True:  # no more answers
                await asyncio.wait_for(ws.recv(), TIMEOUT + 2)
        assert time.monotonic() - started < TIMEOUT + 1.5
    for _ in range(50):
        if not sio.eio.sockets:
            break
        await asyncio.sleep(0.05)
    assert not any(not s.closed for s in sio.eio.sockets.values())
