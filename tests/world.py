"""Test helpers that read like the product: people who sign in, open conversations and chat.

    patient = await world.patient("Trần Thị Bình")
    doctor = await world.doctor("BS. Nguyễn Văn An")
    conversation = await patient.opens_conversation_with(doctor)
    await patient.sends(conversation, "Tôi bị đau đầu")
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jwt
import socketio
import uvicorn

from medtalk.app import create_app
from medtalk.core.auth import Role, mint_token
from medtalk.db.migrate import upgrade
from medtalk.settings import Settings

TEST_JWT_SECRET = "test-only-jwt-secret-0123456789abcdef0123456789"
NAMESPACE = "/ws/chat"


def postgres_admin_url() -> str:
    return os.environ.get("MEDTALK_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


def try_create_database(admin_url: str, name: str) -> tuple[str, Callable[[], None], str | None]:
    """Create database `name`; returns (async URL, drop function, problem or None)."""
    import asyncpg

    async def run(sql: str) -> None:
        connection = await asyncpg.connect(admin_url, timeout=5)
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    try:
        asyncio.run(run(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable here"
        return "", lambda: None, f"{type(exc).__name__}: {exc}"
    base = admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)

    def drop() -> None:
        with contextlib.suppress(Exception):
            asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    return f"{base}/{name}", drop, None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class LiveServer:
    base_url: str
    settings: Settings
    backend: str
    app: Any

    @property
    def services(self) -> Any:
        return self.app.api.state.services

    def token(self, user_id: uuid.UUID, name: str, role: Role, ttl: int = 3600) -> str:
        return mint_token(self.settings, user_id, name, role, ttl_seconds=ttl)

    async def sql(self, query: str, **params: Any) -> list[Any]:
        """Read the database directly, through a connection of the test's own."""
        import sqlalchemy as sa
        from sqlalchemy.ext.asyncio import create_async_engine

        engine = create_async_engine(self.settings.resolved_database_url)
        try:
            async with engine.connect() as connection:
                return list(await connection.execute(sa.text(query), params))
        finally:
            await engine.dispose()


def test_settings(data_dir: Path, database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "database_url": database_url,
        "jwt_secret": TEST_JWT_SECRET,
        "link_secret": "test-only-link-secret",
        "max_upload_bytes": 2 * 1024 * 1024,
        "log_level": "WARNING",
    }
    values.update(overrides)
    return Settings(**values)


@contextlib.contextmanager
def start_server(
    data_dir: Path, database_url: str, *, backend: str, **overrides: Any
) -> Iterator[LiveServer]:
    """Migrate, then run medtalk under uvicorn in a thread, on a free loopback port."""
    settings = test_settings(data_dir, database_url, **overrides)
    upgrade(settings)
    app = create_app(settings)
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("medtalk test server did not start")
        time.sleep(0.02)
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", settings, backend, app)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


class Events:
    """Collects what a socket receives; `await events.next("message_received")`."""

    def __init__(self) -> None:
        self.received: dict[str, list[Any]] = {}
        self._waiters: dict[str, asyncio.Queue[Any]] = {}

    def record(self, event: str, data: Any) -> None:
        self.received.setdefault(event, []).append(data)
        self._waiters.setdefault(event, asyncio.Queue()).put_nowait(data)

    async def next(self, event: str, timeout: float = 5.0) -> Any:
        queue = self._waiters.setdefault(event, asyncio.Queue())
        return await asyncio.wait_for(queue.get(), timeout)

    async def none(self, event: str, within: float = 0.5) -> None:
        """Assert that `event` does not arrive within `within` seconds."""
        queue = self._waiters.setdefault(event, asyncio.Queue())
        with contextlib.suppress(TimeoutError):
            data = await asyncio.wait_for(queue.get(), within)
            raise AssertionError(f"unexpected {event}: {data}")


@dataclass
class Socket:
    client: socketio.AsyncClient
    events: Events

    async def call(self, event: str, data: Any, timeout: float = 5.0) -> Any:
        return await self.client.call(event, data, namespace=NAMESPACE, timeout=timeout)

    async def join(self, conversation: str, last_seq: int | None = None) -> Any:
        payload: dict[str, Any] = {"conversationId": conversation}
        if last_seq is not None:
            payload["lastSeq"] = last_seq
        return await self.call("join_conversation", payload)

    async def close(self) -> None:
        await self.client.disconnect()


@dataclass
class Person:
    world: World
    name: str
    role: Role
    id: uuid.UUID = field(default_factory=uuid.uuid4)

    @property
    def token(self) -> str:
        return self.world.server.token(self.id, self.name, self.role)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("GET", path, **kwargs)

    async def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("POST", path, **kwargs)

    async def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return await self.world.http.request(method, path, headers=headers, **kwargs)

    async def signs_in(self) -> None:
        response = await self.get("/api/v1/chat/conversations")
        assert response.status_code == 200, response.text

    async def opens_conversation_with(self, other: Person, initial: str | None = None) -> str:
        body: dict[str, Any] = {"doctorId": str(other.id)} if self.role is Role.PATIENT else {
            "patientId": str(other.id)
        }
        if initial is not None:
            body["initialMessage"] = initial
        response = await self.post("/api/v1/chat/conversations/create", json=body)
        assert response.status_code == 201, response.text
        return str(response.json()["conversationId"])

    async def sends(self, conversation: str, text: str, **extra: Any) -> dict[str, Any]:
        body = {"conversationId": conversation, "content": text, "contentType": "TEXT", **extra}
        response = await self.post("/api/v1/chat/messages/send", json=body)
        assert response.status_code == 201, response.text
        return dict(response.json())

    async def history(self, conversation: str, **params: Any) -> dict[str, Any]:
        response = await self.get(f"/api/v1/chat/conversations/{conversation}/messages", params=params)
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def conversations(self, **params: Any) -> dict[str, Any]:
        response = await self.get("/api/v1/chat/conversations", params=params)
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def presence_of(self, other: Person) -> httpx.Response:
        return await self.get(f"/api/v1/chat/users/{other.id}/presence")

    async def sets_status(self, conversation: str, status: str) -> httpx.Response:
        return await self.request(
            "PUT", f"/api/v1/chat/conversations/{conversation}/status", json={"status": status}
        )

    async def connects(self, token: str | None = None) -> Socket:
        events = Events()
        client = socketio.AsyncClient(reconnection=False)

        @client.on("*", namespace=NAMESPACE)  # type: ignore[misc]
        async def _any(event: str, data: Any = None) -> None:
            events.record(event, data)

        await client.connect(
            self.world.server.base_url,
            namespaces=[NAMESPACE],
            auth={"token": f"Bearer {token or self.token}"},
            transports=["websocket"],
            wait_timeout=5,
        )
        socket_ = Socket(client, events)
        self.world.sockets.append(socket_)
        return socket_


class World:
    """People and connections for one test, cleaned up at the end."""

    def __init__(self, server: LiveServer) -> None:
        self.server = server
        self.http = httpx.AsyncClient(base_url=server.base_url, timeout=10)
        self.sockets: list[Socket] = []

    async def __aenter__(self) -> World:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        for socket_ in self.sockets:
            with contextlib.suppress(Exception):
                await socket_.close()
        await self.http.aclose()

    async def person(self, name: str, role: Role) -> Person:
        person = Person(self, name, role)
        await person.signs_in()
        return person

    async def patient(self, name: str = "Trần Thị Bình") -> Person:
        return await self.person(name, Role.PATIENT)

    async def doctor(self, name: str = "BS. Nguyễn Văn An") -> Person:
        return await self.person(name, Role.DOCTOR)

    async def admin(self, name: str = "Quản trị viên") -> Person:
        return await self.person(name, Role.ADMIN)

    async def consultation(self, initial: str | None = None) -> tuple[Person, Person, str]:
        """A patient and a doctor with an open conversation."""
        patient, doctor = await self.patient(), await self.doctor()
        return patient, doctor, await patient.opens_conversation_with(doctor, initial)


def forged_token(user_id: uuid.UUID, role: str = "PATIENT", **claims: Any) -> str:
    body = {"sub": str(user_id), "name": "x", "role": role, "exp": int(time.time()) + 600, **claims}
    return jwt.encode(body, "not-the-server-secret-0123456789abcdef", algorithm="HS256")
