"""Server CPU per chat message at the Socket.IO edge alone: no database (issue 15, bench/README.md).

    .venv/bin/python bench/edge_cost_probe.py                    # medtalk's edge (EdgeServer)
    EDGE=vanilla .venv/bin/python bench/edge_cost_probe.py       # python-socketio as shipped
    ASYNC_HANDLERS=0 JSON=std .venv/bin/python bench/edge_cost_probe.py

A server process runs the Socket.IO edge as `medtalk serve` does (uvicorn, uvloop, httptools,
the websocket protocol and options from realtime/websocket_protocol.py) with one handler that
stands in for the chat service: `send_message` emits `message_received` with a message-sized
payload to the paired socket and answers the ack. PAIRS patient/doctor pairs (bench/sioclient.py,
in this process) send MESSAGES in a closed loop; the server's CPU time over them, divided by
MESSAGES, is the edge's cost of one sent, acked and delivered message. `EDGE=vanilla`:
`socketio.AsyncServer` and uvicorn's own websocket protocol; `ASYNC_HANDLERS=0`: handlers run
inline in the socket's reader; `JSON=std`: the standard library's json for packets.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from typing import Any

sys.path.insert(0, "bench")

PAIRS = int(os.environ.get("PAIRS", "20"))
MESSAGES = int(os.environ.get("MESSAGES", "20000"))
CONTENT = "Tôi bị đau đầu từ sáng nay, uống thuốc rồi mà chưa đỡ. " * 2


def serve(port: int) -> None:
    import socketio
    import uvicorn

    import medtalk  # noqa: F401 - its lazy python-socketio, as `medtalk serve` imports it
    from medtalk.realtime import jsoncodec
    from medtalk.realtime.edge import EdgeServer
    from medtalk.realtime.websocket_protocol import SERVE_OPTIONS

    vanilla = os.environ.get("EDGE") == "vanilla"
    options: dict[str, Any] = {
        "async_mode": "asgi",
        "logger": False,
        "async_handlers": os.environ.get("ASYNC_HANDLERS", "1") == "1",
    }
    if os.environ.get("JSON", "orjson") == "orjson":
        options["json"] = jsoncodec
    sio = (socketio.AsyncServer if vanilla else EdgeServer)(**options)
    waiting: list[str] = []
    peer: dict[str, str] = {}
    conversation_id = str(uuid.uuid4())

    class Chat(socketio.AsyncNamespace):  # type: ignore[misc]
        async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
            if waiting:
                other = waiting.pop()
                peer[sid], peer[other] = other, sid
            else:
                waiting.append(sid)

        async def on_send_message(self, sid: str, data: dict[str, Any]) -> dict[str, Any]:
            message = {
                "id": str(uuid.uuid4()),
                "conversationId": conversation_id,
                "senderId": sid,
                "senderRole": "patient",
                "content": data["content"],
                "contentType": "text",
                "seq": 1,
                "sentAt": "2026-12-01T17:00:00.000000Z",
                "clientMessageId": data["clientMessageId"],
                "attachments": [],
                "replyTo": None,
            }
            await self.emit("message_received", message, to=peer[sid])
            return {"ok": True, "message": message}

    sio.register_namespace(Chat("/ws/chat"))
    uvicorn.run(
        socketio.ASGIApp(sio),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        loop="uvloop",
        http="httptools",
        **({} if vanilla else SERVE_OPTIONS),
    )


async def load(port: int, server_pid: int) -> None:
    import psutil
    from sioclient import SioClient

    delivered = 0

    def on_event(_name: str, _data: Any) -> None:
        nonlocal delivered
        delivered += 1

    clients = [
        SioClient(f"http://127.0.0.1:{port}", "/ws/chat", "unused", on_event)
        for _ in range(2 * PAIRS)
    ]
    for client in clients:  # one by one: the server pairs them in connect order
        await client.connect()
    patients = clients[0::2]

    async def send(client: SioClient, count: int) -> None:
        for _ in range(count):
            body = {"conversationId": "c", "content": CONTENT, "clientMessageId": str(uuid.uuid4())}
            await client.emit("send_message", body)

    await asyncio.gather(*(send(p, 200) for p in patients))  # warm-up
    server, start = psutil.Process(server_pid), delivered
    cpu, wall = server.cpu_times(), time.perf_counter()
    await asyncio.gather(*(send(p, MESSAGES // PAIRS) for p in patients))
    while delivered - start < MESSAGES and time.perf_counter() - wall < 60:  # noqa: ASYNC110
        await asyncio.sleep(0.01)  # the last deliveries trail the last acks
    after, wall = server.cpu_times(), time.perf_counter() - wall
    used = after.user + after.system - cpu.user - cpu.system
    switches = ("EDGE", "ASYNC_HANDLERS", "JSON")
    label = " ".join(f"{k}={os.environ[k]}" for k in switches if k in os.environ)
    print(
        f"{label or 'medtalk edge'}: {MESSAGES} messages in {wall:.2f} s, server CPU "
        f"{used * 1e6 / MESSAGES:.0f} µs a message, {delivered - start} delivered, "
        f"load {os.getloadavg()[0]:.1f}"
    )
    for client in clients:
        await client.close()


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "serve":
        serve(int(sys.argv[2]))
        return
    import httpx

    port = 18900 + os.getpid() % 100
    server = subprocess.Popen([sys.executable, __file__, "serve", str(port)])
    try:
        for _ in range(300):
            try:
                httpx.get(f"http://127.0.0.1:{port}/socket.io/?EIO=4&transport=polling", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        asyncio.run(load(port, server.pid))
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
