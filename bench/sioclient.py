"""A lean Socket.IO v4 client over one WebSocket, for load generation.

python-socketio's client is built for apps, not for opening 20,000 connections from one process;
this speaks just the part of the protocol the benchmark needs (connect to a namespace with auth,
emit with acknowledgement, receive events, answer pings) on top of the `websockets` library.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from typing import Any

import orjson
import websockets

EventHandler = Callable[[str, Any], None]


class SioClient:
    def __init__(
        self,
        url: str,
        namespace: str,
        token: str,
        on_event: EventHandler,
        source: str | None = None,
    ) -> None:
        host = url.replace("http://", "ws://").rstrip("/")
        self._url = f"{host}/socket.io/?EIO=4&transport=websocket"
        self._namespace = namespace
        self._token = token
        self._on_event = on_event
        self._ack_ids = itertools.count(1)
        self._acks: dict[int, asyncio.Future[Any]] = {}
        self._ws: Any = None
        self._reader: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()
        # A loopback source address (127.0.0.x): nginx picks a node by it in the cluster run.
        self._source = source

    async def connect(self) -> None:
        self._ws = await websockets.connect(
            self._url,
            compression=None,
            max_size=2**20,
            open_timeout=60,
            ping_interval=None,
            local_addr=(self._source, 0) if self._source else None,
        )
        await self._ws.recv()  # engine.io "open" packet
        auth = orjson.dumps({"token": f"Bearer {self._token}"}).decode()
        await self._ws.send(f"40{self._namespace},{auth}")
        self._reader = asyncio.create_task(self._read())
        await asyncio.wait_for(self._connected.wait(), 30)

    async def emit(self, event: str, data: Any, timeout: float = 30) -> Any:
        """Emit and wait for the acknowledgement."""
        ack_id = next(self._ack_ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._acks[ack_id] = future
        payload = orjson.dumps([event, data]).decode()
        await self._ws.send(f"42{self._namespace},{ack_id}{payload}")
        try:
            return await asyncio.wait_for(future, timeout)
        finally:
            self._acks.pop(ack_id, None)

    async def close(self) -> None:
        if self._reader:
            self._reader.cancel()
        if self._ws is not None:
            await self._ws.close()

    async def _read(self) -> None:
        prefix = f"{self._namespace},"
        async for frame in self._ws:
            if frame == "2":  # engine.io ping
                await self._ws.send("3")
                continue
            if not frame.startswith("4"):
                continue
            kind, body = frame[1], frame[2:]
            body = body[len(prefix) :] if body.startswith(prefix) else body
            if kind == "0":
                self._connected.set()
            elif kind == "4":
                raise ConnectionError(f"connection refused: {body}")
            elif kind == "2":
                event, *args = orjson.loads(body)
                self._on_event(event, args[0] if args else None)
            elif kind == "3":
                digits = len(body) - len(body.lstrip("0123456789"))
                ack_id, result = int(body[:digits]), orjson.loads(body[digits:])
                future = self._acks.get(ack_id)
                if future is not None and not future.done():
                    future.set_result(result[0] if result else None)
