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
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import httpx
import jwt
import pytest
import socketio
import uvicorn

from medtalk.app import create_app
from medtalk.core.auth import Role, mint_token
from medtalk.core.clock import Clock
from medtalk.db.migrate import upgrade
from medtalk.realtime.websocket_protocol import SERVE_OPTIONS
from medtalk.settings import Settings

TEST_JWT_SECRET = "test-only-jwt-secret-0123456789abcdef0123456789"
# Every secret production mode insists on, each set to a non-dev value.
PRODUCTION_SECRETS: dict[str, Any] = {
    "mode": "production",
    "jwt_secret": "production-secret-0123456789abcdef0123456789abcdef",
    "link_secret": "production-link-secret-0123456789abcdef",
    "room_token_secret": "production-room-secret-0123456789abcdef",
    "audit_secret": "production-audit-secret-0123456789abcdef",
    "encryption_keys": "k1:" + "A" * 43 + "=",
}
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


def fresh_database(backend: str) -> tuple[str, Callable[[], None]]:
    """(database URL, drop): "" for SQLite in the data dir, or a new PostgreSQL database of
    the caller's own (skipped, or failed in CI, where PostgreSQL is unreachable)."""
    if backend == "sqlite":
        return "", lambda: None
    url, drop, problem = try_create_database(
        postgres_admin_url(), f"medtalk_test_{uuid.uuid4().hex[:10]}"
    )
    if problem:
        unavailable(f"PostgreSQL not reachable: {problem}")
    return url, drop


async def eventually(
    check: Callable[[], Awaitable[bool]], within: float, what: str, every: float = 0.1
) -> None:
    """Wait until `check()` holds. For state seen from outside (HTTP, SQL, a receiver), which
    has no event to await: it is polled, `every` seconds of real time."""
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within}s: {what}")
        await asyncio.sleep(every)


def unavailable(reason: str) -> NoReturn:
    """A tool or service a test needs is missing: the test fails in CI (CI=true), where
    scripts/test-deps.sh installs everything, and is skipped with the reason elsewhere."""
    if os.environ.get("CI"):
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def serve_jwks(public_key: Any, kid: str = "k1", alg: str = "RS256") -> Iterator[str]:
    """A real HTTP server on loopback publishing `public_key` as a JWKS, as an IdP would;
    yields its URL."""
    import json
    from http.server import BaseHTTPRequestHandler, HTTPServer

    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(public_key))
    body = json.dumps({"keys": [{**jwk, "kid": kid, "use": "sig", "alg": alg}]}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", free_port()), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/.well-known/jwks.json"
    finally:
        server.shutdown()


@dataclass
class LiveServer:
    base_url: str
    settings: Settings
    backend: str
    app: Any

    @property
    def container(self) -> Any:
        return self.app.api.state.container

    def token(self, user_id: uuid.UUID, name: str, role: Role, ttl: int = 3600) -> str:
        return mint_token(self.settings, user_id, name, role, ttl_seconds=ttl)

    def cli_env(self, **extra: str) -> dict[str, str]:
        """MEDTALK_* variables that point an operator command at this server's data."""
        settings = self.settings
        env = {
            "MEDTALK_DATA_DIR": str(settings.data_dir),
            "MEDTALK_DATABASE_URL": settings.database_url,
            "MEDTALK_JWT_SECRET": settings.jwt_secret,
            "MEDTALK_LINK_SECRET": settings.link_secret,
            "MEDTALK_AUDIT_SECRET": settings.audit_secret,
            "MEDTALK_ENCRYPTION_KEYS": settings.encryption_keys,
            "MEDTALK_LOG_LEVEL": "WARNING",
        }
        return env | extra

    async def cli(self, *args: str, **env: str) -> Any:
        """Run `medtalk <args>` in-process (in a thread: the commands run their own loop)."""
        from typer.testing import CliRunner

        from medtalk.cli import app

        runner = CliRunner()
        return await asyncio.to_thread(runner.invoke, app, list(args), env=self.cli_env(**env))

    def db_uuid(self, value: str | uuid.UUID) -> Any:
        """A UUID as a raw SQL parameter for this backend (SQLite stores 32 hex characters)."""
        value = uuid.UUID(str(value))
        return value if self.backend == "postgresql" else value.hex

    async def audit_rows(self, **where: Any) -> list[Any]:
        """Audit rows (oldest first), read directly; `where` compares columns for equality."""
        clauses = " AND ".join(f"{column} = :{column}" for column in where) or "1 = 1"
        params = {
            k: self.db_uuid(v) if k.endswith("_id") and k != "object_id" else v
            for k, v in where.items()
        }
        return await self.sql(f"SELECT * FROM audit_log WHERE {clauses} ORDER BY seq", **params)

    async def execute(self, *statements: str, **params: Any) -> None:
        """Write to the database directly (as an attacker or an operator with SQL access would)."""
        import sqlalchemy as sa
        from sqlalchemy.ext.asyncio import create_async_engine

        engine = create_async_engine(self.settings.resolved_database_url)
        try:
            async with engine.begin() as connection:
                for statement in statements:
                    await connection.execute(sa.text(statement), params)
        finally:
            await engine.dispose()

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
        "max_image_bytes": 1024 * 1024,
        "log_level": "WARNING",
        "stun_urls": [],  # no Internet here: a public STUN server would only slow ICE down
        "recording_final_chunk_seconds": 1.0,  # recordings assemble a second after they stop
    }
    values.update(overrides)
    return Settings(**values)


@contextlib.contextmanager
def start_server(
    data_dir: Path,
    database_url: str,
    *,
    backend: str,
    uvicorn_options: dict[str, Any] | None = None,
    clock: Clock | None = None,
    **overrides: Any,
) -> Iterator[LiveServer]:
    """Migrate, then run medtalk under uvicorn in a thread, on a free loopback port.

    `clock`: a FakeClock the test advances instead of sleeping (timers wake as it passes them).
    """
    settings = test_settings(data_dir, database_url, **overrides)
    # In a thread: Alembic runs its own event loop, and async tests start servers too.
    failures: list[BaseException] = []

    def migrate() -> None:
        try:
            upgrade(settings)
        except BaseException as exc:  # noqa: BLE001 - re-raised below, in the caller
            failures.append(exc)

    migration = threading.Thread(target=migrate)
    migration.start()
    migration.join()
    if failures:
        raise failures[0]
    app = create_app(settings, clock=clock)
    port = free_port()
    # The websocket protocol `medtalk serve` runs (cli: memory per idle connection, issue 15).
    options: dict[str, Any] = {
        "log_level": "warning",
        **SERVE_OPTIONS,
        **(uvicorn_options or {}),
    }
    config = uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="on", **options)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("medtalk test server did not start")
        time.sleep(0.02)  # uvicorn's thread sets a flag, not an event
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", settings, backend, app)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@dataclass
class S3Emulator:
    """moto's standalone S3 server on loopback (a protocol-level emulator; MinIO is not
    installable here). medtalk talks to it exactly as to MinIO or AWS: endpoint + credentials."""

    endpoint_url: str
    access_key_id: str = "test-only-access-key"
    secret_access_key: str = "test-only-secret-key"
    region: str = "us-east-1"

    def new_bucket(self) -> str:
        import boto3

        name = f"medtalk-test-{uuid.uuid4().hex[:10]}"
        self.client(boto3).create_bucket(Bucket=name)
        return name

    def client(self, boto3: Any) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
        )

    def settings(self, bucket: str, prefix: str = "chat-files") -> dict[str, Any]:
        """Settings overrides for a medtalk server that stores files in `bucket`."""
        return {
            "storage_url": f"s3://{bucket}/{prefix}",
            "s3_endpoint_url": self.endpoint_url,
            "s3_region": self.region,
            "s3_access_key_id": self.access_key_id,
            "s3_secret_access_key": self.secret_access_key,
            "s3_part_bytes": 5 * 1024 * 1024,
        }


@contextlib.contextmanager
def start_s3_emulator() -> Iterator[S3Emulator]:
    """Run `moto_server` as a subprocess on a free loopback port until the block ends."""
    import shutil
    import subprocess
    import sys

    port = free_port()
    command = shutil.which("moto_server", path=str(Path(sys.executable).parent))
    if command is None:
        raise RuntimeError("moto_server not installed (dev dependency moto[server])")
    process = subprocess.Popen(
        [command, "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("moto_server did not start") from None
                time.sleep(0.1)  # a subprocess: polled
        yield S3Emulator(f"http://127.0.0.1:{port}")
    finally:
        process.terminate()
        process.wait(timeout=10)


# The EICAR anti-virus test file (harmless; every scanner detects it), in two halves so this
# source file is not itself flagged by scanners.
EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR" + b"-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"


def find_clamd() -> str | None:
    import shutil

    return shutil.which("clamd") or shutil.which("clamd", path="/usr/sbin:/usr/local/sbin")


@contextlib.contextmanager
def start_clamd(workdir: Path) -> Iterator[str]:
    """Run Debian's clamd on a free loopback port with a tiny local signature database
    (the EICAR test signature: a body signature and the file's MD5; no download needed).
    Yields MEDTALK_CLAMD_URL."""
    import hashlib
    import subprocess

    clamd = find_clamd()
    if clamd is None:
        raise RuntimeError("clamd not installed (scripts/test-deps.sh installs clamav-daemon)")
    database = workdir / "db"
    database.mkdir(parents=True, exist_ok=True)
    (database / "medtalk-test.ndb").write_text(f"Eicar-Test-Signature:0:*:{EICAR.hex()}\n")
    md5 = hashlib.md5(EICAR).hexdigest()  # noqa: S324 - ClamAV's hash signature format
    (database / "medtalk-test.hdb").write_text(f"{md5}:{len(EICAR)}:Eicar-Test-Signature\n")
    port = free_port()
    config = workdir / "clamd.conf"
    config.write_text(
        f"Foreground yes\nTCPSocket {port}\nTCPAddr 127.0.0.1\nDatabaseDirectory {database}\n"
        f"LogFile {workdir / 'clamd.log'}\nPidFile {workdir / 'clamd.pid'}\n"
        "StreamMaxLength 200M\nMaxFileSize 200M\nMaxScanSize 400M\nBytecode no\n"
        "MaxThreads 4\nSelfCheck 0\n"
    )
    process = subprocess.Popen(
        [clamd, f"--config-file={config}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 60
        while not _clamd_answers(port):
            if time.monotonic() > deadline or process.poll() is not None:
                log_file = workdir / "clamd.log"
                log = log_file.read_text() if log_file.exists() else ""
                raise RuntimeError(f"clamd did not start: {log[-2000:]}")
            time.sleep(0.1)  # a subprocess: polled
        yield f"tcp://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def _clamd_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as connection:
            connection.sendall(b"zPING\0")
            return connection.recv(16).startswith(b"PONG")
    except OSError:
        return False


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

    async def says_goodbye(self) -> None:
        """Disconnect the way a browser does: the namespace DISCONNECT packet reaches the server
        before the transport closes. (python-socketio's own `disconnect()` may close the
        WebSocket before its queued packets are written, which the server sees as a drop.)"""
        from socketio import packet

        goodbye = self.client.packet_class(packet.DISCONNECT, namespace=NAMESPACE)
        await self.client._send_packet(goodbye)
        await self.client.eio.queue.join()  # written to the WebSocket
        await asyncio.sleep(0.2)  # and handled by the server before the transport closes
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

    async def put(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("PUT", path, **kwargs)

    async def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return await self.world.http.request(method, path, headers=headers, **kwargs)

    async def signs_in(self) -> None:
        response = await self.get("/api/v1/chat/conversations")
        assert response.status_code == 200, response.text

    async def opens_conversation_with(self, other: Person, initial: str | None = None) -> str:
        body: dict[str, Any] = (
            {"doctorId": str(other.id)}
            if self.role is Role.PATIENT
            else {"patientId": str(other.id)}
        )
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
        response = await self.get(
            f"/api/v1/chat/conversations/{conversation}/messages", params=params
        )
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def uploads(
        self, conversation: str, name: str, data: bytes, file_type: str = "FILE"
    ) -> dict[str, Any]:
        form = {"conversationId": conversation, "fileType": file_type}
        response = await self.post(
            "/api/v1/chat/messages/upload", data=form, files={"file": (name, data)}
        )
        assert response.status_code == 201, response.text
        return dict(response.json())

    async def conversations(self, **params: Any) -> dict[str, Any]:
        response = await self.get("/api/v1/chat/conversations", params=params)
        assert response.status_code == 200, response.text
        return dict(response.json())

    # --- video calls ----------------------------------------------------------------------

    async def creates_room(self, conversation: str | None = None, **body: Any) -> dict[str, Any]:
        if conversation is not None:
            body.setdefault("conversationId", conversation)
        response = await self.post("/api/v1/video-call/create-room", json=body)
        assert response.status_code == 201, response.text
        return dict(response.json())

    async def room_token(self, room_id: str) -> dict[str, Any]:
        response = await self.get(f"/api/v1/video-call/rooms/{room_id}/token")
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def joins_room(self, room_id: str, **device: Any) -> dict[str, Any]:
        body = {"deviceInfo": {"browser": "pytest", **device}}
        response = await self.post(f"/api/v1/video-call/rooms/{room_id}/join", json=body)
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def ends_call(self, room_id: str) -> dict[str, Any]:
        response = await self.put(f"/api/v1/video-call/rooms/{room_id}/end")
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def presence_of(self, other: Person) -> httpx.Response:
        return await self.get(f"/api/v1/chat/users/{other.id}/presence")

    async def sets_status(self, conversation: str, status: str) -> httpx.Response:
        return await self.request(
            "PUT", f"/api/v1/chat/conversations/{conversation}/status", json={"status": status}
        )

    # --- call recording ---------------------------------------------------------------------

    async def uploads_chunk(
        self, room_id: str, recording_id: str, index: int, data: bytes
    ) -> httpx.Response:
        """PUT one recorder chunk; the response is returned as is (tests check refusals)."""
        path = f"/api/v1/video-call/rooms/{room_id}/recordings/{recording_id}/chunks/{index}"
        return await self.put(path, content=data, headers={"Content-Type": "video/webm"})

    async def recording(self, room_id: str, recording_id: str) -> dict[str, Any]:
        response = await self.get(f"/api/v1/video-call/rooms/{room_id}/recordings/{recording_id}")
        assert response.status_code == 200, response.text
        return dict(response.json())

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


class Metrics:
    """One scrape of /metrics: `scrape.value("medtalk_messages_sent_total", content_type="X")`."""

    def __init__(self, text: str) -> None:
        from prometheus_client.parser import text_string_to_metric_families

        self.text = text
        self.samples: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                self.samples[(sample.name, frozenset(sample.labels.items()))] = sample.value

    def value(self, name: str, **labels: str) -> float:
        """The sum of the series called `name` whose labels include `labels` (0 if none)."""
        wanted = set(labels.items())
        return sum(
            value
            for (sample, sample_labels), value in self.samples.items()
            if sample == name and wanted <= sample_labels
        )


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

    async def metrics(self) -> Metrics:
        """Scrape the server's /metrics as Prometheus would."""
        response = await self.http.get("/metrics")
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/plain")
        return Metrics(response.text)

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

    async def video_consultation(self, **room: Any) -> tuple[Person, Person, dict[str, Any]]:
        """A patient and a doctor with a conversation and a video room the doctor opened."""
        patient, doctor, conversation = await self.consultation()
        return patient, doctor, await doctor.creates_room(conversation, **room)

    async def call_in_progress(self) -> LiveCall:
        """A patient and a doctor in a video call (both joined, both connected)."""
        patient, doctor, room = await self.video_consultation()
        patient_socket, doctor_socket = await patient.connects(), await doctor.connects()
        await doctor.joins_room(room["roomId"])
        joined = await patient.joins_room(room["roomId"])
        assert joined["status"] == "IN_PROGRESS", joined
        return LiveCall(patient, doctor, room, patient_socket, doctor_socket)


@dataclass
class LiveCall:
    """A call in progress: both people joined, both sockets connected."""

    patient: Person
    doctor: Person
    room: dict[str, Any]
    patient_socket: Socket
    doctor_socket: Socket

    @property
    def room_id(self) -> str:
        return str(self.room["roomId"])

    async def doctor_asks_to_record(self) -> str:
        """The doctor asks, the patient is prompted; returns the recording id."""
        ack = await self.doctor_socket.call("recording_request", {"roomId": self.room_id})
        assert ack.get("status") == "REQUESTED", ack
        prompt = await self.patient_socket.events.next("recording_consent_requested")
        assert prompt["recordingId"] == ack["recordingId"]
        return str(ack["recordingId"])

    async def patient_answers(self, accepted: bool) -> dict[str, Any]:
        ack = await self.patient_socket.call(
            "recording_consent", {"roomId": self.room_id, "accepted": accepted}
        )
        assert "error" not in ack, ack
        return dict(ack)

    async def recording_runs(self) -> str:
        """Asked, consented, and both sides told that recording started."""
        recording_id = await self.doctor_asks_to_record()
        await self.patient_answers(True)
        for socket_ in (self.doctor_socket, self.patient_socket):
            started = await socket_.events.next("recording_started")
            assert started["recordingId"] == recording_id
        return recording_id


def forged_token(user_id: uuid.UUID, role: str = "PATIENT", **claims: Any) -> str:
    body = {"sub": str(user_id), "name": "x", "role": role, "exp": int(time.time()) + 600, **claims}
    return jwt.encode(body, "not-the-server-secret-0123456789abcdef", algorithm="HS256")
