"""`medtalk serve --workers 2`: two processes on one port, PostgreSQL and Redis behind them.

Real processes, a real PostgreSQL database and Redis. Clients connect from several loopback
source addresses: each address must always reach the same worker (the kernel picks it by the
client's address), so a client on long-polling keeps its Engine.IO session, and a message
crosses from one worker to the other through Redis.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import pytest
import socketio

import world
from medtalk.core.auth import Role, mint_token
from world import (
    NAMESPACE,
    TEST_JWT_SECRET,
    free_port,
    postgres_admin_url,
    try_create_database,
    unavailable,
)

SOURCES = [f"127.0.0.{n}" for n in range(2, 10)]


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    name = f"medtalk_workers_{uuid.uuid4().hex[:8]}"
    database_url, drop, problem = try_create_database(postgres_admin_url(), name)
    if problem:
        unavailable(f"PostgreSQL is needed for --workers ({problem})")
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("MEDTALK_")},
        "MEDTALK_DATA_DIR": str(tmp_path),
        "MEDTALK_DATABASE_URL": database_url,
        "MEDTALK_REDIS_URL": os.environ.get("MEDTALK_TEST_REDIS", "redis://127.0.0.1:6379/0"),
        "MEDTALK_REDIS_PREFIX": name,
        "MEDTALK_JWT_SECRET": TEST_JWT_SECRET,
        "MEDTALK_LOG_LEVEL": "WARNING",
        "MEDTALK_STUN_URLS": "[]",
    }
    medtalk = Path(sys.executable).parent / "medtalk"
    command = [str(medtalk), "serve", "--workers", "2", "--host", "0.0.0.0", "--port", str(port)]
    process = subprocess.Popen(command, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while not _healthy(url):
            assert process.poll() is None, "medtalk serve --workers exited"
            assert time.monotonic() < deadline, "the workers did not start within 90 s"
            time.sleep(0.2)  # a subprocess: polled
        yield url, process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(40)
            except subprocess.TimeoutExpired:
                process.kill()
        drop()


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


async def node_of(url: str, source: str) -> str:
    transport = httpx.AsyncHTTPTransport(local_address=source)
    async with httpx.AsyncClient(transport=transport, timeout=5) as http:
        answer = await http.get(f"{url}/healthz")
        return str(answer.json()["node"])


def token(user_id: uuid.UUID, role: Role) -> str:
    settings = world.test_settings(Path("/tmp"), "", jwt_secret=TEST_JWT_SECRET)
    return mint_token(settings, user_id, role.value.title(), role)


async def connect(
    url: str, source: str, bearer: str, transports: list[str], received: list[Any]
) -> socketio.AsyncClient:
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=(source, 0)))
    client = socketio.AsyncClient(http_session=session, reconnection=False)
    client.on("message_received", received.append, namespace=NAMESPACE)
    await client.connect(
        url,
        namespaces=[NAMESPACE],
        transports=transports,
        auth={"token": bearer},
        socketio_path="/socket.io",
        wait_timeout=10,
    )
    return client


async def test_two_workers_share_the_port_and_each_client_address_sticks_to_one(
    workers: tuple[str, subprocess.Popen[bytes]],
) -> None:
    url, process = workers
    seen: dict[str, set[str]] = {}
    for _ in range(3):
        for source in SOURCES:
            seen.setdefault(source, set()).add(await node_of(url, source))
    assert all(len(nodes) == 1 for nodes in seen.values()), seen  # sticky per address
    by_node: dict[str, list[str]] = {}
    for source, nodes in seen.items():
        by_node.setdefault(next(iter(nodes)), []).append(source)
    assert len(by_node) == 2, by_node  # and both workers serve
    patient_source, doctor_source = (sources[0] for sources in by_node.values())

    patient_id, doctor_id = uuid.uuid4(), uuid.uuid4()
    patient, doctor = token(patient_id, Role.PATIENT), token(doctor_id, Role.DOCTOR)
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        await http.get("/api/v1/chat/conversations", headers={"Authorization": f"Bearer {doctor}"})
        created = await http.post(
            "/api/v1/chat/conversations/create",
            json={"doctorId": str(doctor_id)},
            headers={"Authorization": f"Bearer {patient}"},
        )
        assert created.status_code in (200, 201), created.text
        conversation = created.json()["conversationId"]

    doctor_got: list[Any] = []
    # The patient stays on long-polling: every poll must reach the worker holding its session.
    patient_socket = await connect(url, patient_source, patient, ["polling"], [])
    doctor_socket = await connect(url, doctor_source, doctor, ["polling", "websocket"], doctor_got)
    try:
        for client in (patient_socket, doctor_socket):
            joined = await client.call(
                "join_conversation", {"conversationId": conversation}, namespace=NAMESPACE
            )
            assert "error" not in joined, joined
        for n in range(5):
            ack = await patient_socket.call(
                "send_message",
                {"conversationId": conversation, "content": f"xin chào {n}", "contentType": "TEXT"},
                namespace=NAMESPACE,
                timeout=10,
            )
            assert "error" not in ack, ack
        deadline = time.monotonic() + 10
        while len(doctor_got) < 5 and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)  # messages from another process: polled
        # Crossed from one worker to the other (Redis), in order, each once.
        assert [m["content"] for m in doctor_got] == [f"xin chào {n}" for n in range(5)]
    finally:
        for client in (patient_socket, doctor_socket):
            # Not waiting for the long-poll in flight to end (up to the 25 s ping interval).
            await client.eio.disconnect(abort=True)
            if client.eio.http is not None:
                await client.eio.http.close()
    process.send_signal(signal.SIGTERM)
    assert process.wait(40) == 0  # the workers stopped with their parent


def test_workers_need_postgresql_and_redis(tmp_path: Path) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("MEDTALK_")},
        "MEDTALK_DATA_DIR": str(tmp_path),
        "MEDTALK_JWT_SECRET": TEST_JWT_SECRET,
    }
    medtalk = Path(sys.executable).parent / "medtalk"
    done = subprocess.run(
        [str(medtalk), "serve", "--workers", "2", "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "MEDTALK_REDIS_URL" in done.stderr and "Traceback" not in done.stderr
