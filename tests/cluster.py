"""A real multi-node medtalk on loopback: private PostgreSQL, Redis and RabbitMQ instances (so
the tests may restart them), two `medtalk serve` subprocesses, one `medtalk worker`, nginx.

Clients pick a node through nginx by their source address (127.0.0.x): nginx hashes on it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import glob
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import socketio

from medtalk.db.migrate import upgrade
from world import NAMESPACE, TEST_JWT_SECRET, World, free_port, test_settings

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
ENCRYPTION_KEYS = "k1:" + base64.b64encode(b"cluster-test-only-key-0123456789"[:32]).decode()


def missing_binaries() -> list[str]:
    wanted = {
        "redis-server": shutil.which("redis-server"),
        "rabbitmq-server": shutil.which("rabbitmq-server") or _exists("/usr/sbin/rabbitmq-server"),
        "rabbitmqctl": shutil.which("rabbitmqctl") or _exists("/usr/sbin/rabbitmqctl"),
        "nginx": shutil.which("nginx") or _exists("/usr/sbin/nginx"),
        "pg_ctl": pg_bin("pg_ctl"),
    }
    return [name for name, path in wanted.items() if not path]


def _exists(path: str) -> str | None:
    return path if os.path.exists(path) else None


def pg_bin(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else None


def wait_port(port: int, timeout: float, process: subprocess.Popen[bytes] | None = None) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before port {port}")
        with socket.socket() as probe:
            probe.settimeout(0.2)
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)  # a process's port: polled
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


def _own(path: Path, user: str) -> None:
    shutil.chown(path, user, user)
    for child in path.rglob("*"):
        shutil.chown(child, user, user)


# --- private services -----------------------------------------------------------------------


class PrivateRedis:
    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.dir = workdir
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.dir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_port(self.port, 10, self.process)

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(10)
            self.process = None


class PrivatePostgres:
    """A throwaway cluster under /tmp, run as the postgres user (initdb refuses root)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="medtalk-pg-"))
        self.data = self.dir / "data"
        os.chmod(self.dir, 0o755)
        shutil.chown(self.dir, "postgres", "postgres")

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def _as_postgres(self, *command: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*prefix, *command], check=True, capture_output=True, timeout=60)

    def init(self) -> None:
        initdb = pg_bin("initdb")
        assert initdb
        self._as_postgres(initdb, "-D", str(self.data), "-U", "postgres", "--auth=trust", "-N")

    def start(self) -> None:
        pg_ctl = pg_bin("pg_ctl")
        assert pg_ctl
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._as_postgres(
            pg_ctl,
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.dir / "log"),
            "-w",
            "-t",
            "30",
            "start",
        )

    def stop(self) -> None:
        pg_ctl = pg_bin("pg_ctl")
        assert pg_ctl
        with contextlib.suppress(subprocess.CalledProcessError):
            self._as_postgres(pg_ctl, "-D", str(self.data), "-m", "fast", "-w", "stop")

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class PrivateRabbitMQ:
    """Its own node name, ports, data and log directories; the machine's epmd is shared."""

    def __init__(self) -> None:
        self.port = free_port()
        self.name = f"medtalk{uuid.uuid4().hex[:8]}@localhost"
        self.dir = Path(tempfile.mkdtemp(prefix="medtalk-rmq-"))
        (self.dir / "rabbitmq.conf").write_text(
            f"listeners.tcp.default = 127.0.0.1:{self.port}\nloopback_users = none\n"
        )
        for sub in ("mnesia", "log"):
            (self.dir / sub).mkdir()
        os.chmod(self.dir, 0o755)
        if os.geteuid() == 0:
            _own(self.dir, "rabbitmq")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    def _env(self) -> dict[str, str]:
        return {
            **os.environ,
            "RABBITMQ_NODENAME": self.name,
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(free_port()),
            "RABBITMQ_MNESIA_BASE": str(self.dir / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.dir / "log"),
            "RABBITMQ_CONFIG_FILE": str(self.dir / "rabbitmq"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.dir / "plugins"),
            "RABBITMQ_PID_FILE": str(self.dir / "pid"),
        }

    def start(self, wait: bool = True) -> None:
        server = shutil.which("rabbitmq-server") or "/usr/sbin/rabbitmq-server"
        self.process = subprocess.Popen(
            [server],
            env=self._env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        if wait:
            wait_port(self.port, 60)

    def stop(self) -> None:
        ctl = shutil.which("rabbitmqctl") or "/usr/sbin/rabbitmqctl"
        subprocess.run(
            [ctl, "-n", self.name, "shutdown"], env=self._env(), capture_output=True, timeout=60
        )
        if self.process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(20)
            self.process = None

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class Nginx:
    def __init__(self, node_ports: list[int]) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="medtalk-nginx-"))
        os.chmod(self.dir, 0o755)
        template = (ROOT / "deploy" / "nginx.conf.template").read_text()
        servers = "\n        ".join(
            f"server 127.0.0.1:{port} max_fails=1 fail_timeout=2s;" for port in node_ports
        )
        config = (
            template.replace("${PREFIX}", str(self.dir))
            .replace("${UPSTREAM_SERVERS}", servers)
            .replace("${LISTEN}", f"127.0.0.1:{self.port}")
        )
        (self.dir / "nginx.conf").write_text(config)
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        binary = shutil.which("nginx") or "/usr/sbin/nginx"
        self.process = subprocess.Popen(
            [binary, "-p", str(self.dir), "-c", str(self.dir / "nginx.conf")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_port(self.port, 10, self.process)

    def stop(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGQUIT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(5)
            if self.process.poll() is None:
                self.process.kill()
            self.process = None
        shutil.rmtree(self.dir, ignore_errors=True)


class Webhook:
    """The notification receiver: records every POST (a stand-in for the platform's push)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                import json

                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with outer.lock:
                    outer.calls.append((self.headers.get("Idempotency-Key", ""), body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def for_user(self, user_id: uuid.UUID) -> list[tuple[str, dict[str, Any]]]:
        with self.lock:
            return [call for call in self.calls if call[1]["userId"] == str(user_id)]

    def close(self) -> None:
        self.server.shutdown()


# --- medtalk processes ----------------------------------------------------------------------


@dataclass
class Process:
    name: str
    command: list[str]
    env: dict[str, str]
    log: Path
    port: int | None = None
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, wait: bool = True) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                self.command, env=self.env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT
            )
        if wait:
            self.wait_ready()

    def wait_ready(self) -> None:
        if self.port is not None:
            assert self.process is not None
            wait_port(self.port, 40, self.process)

    def kill9(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


@dataclass
class Cluster:
    postgres: PrivatePostgres
    redis: PrivateRedis
    rabbitmq: PrivateRabbitMQ
    nodes: list[Process]
    worker: Process
    nginx: Nginx
    webhook: Webhook
    workdir: Path
    env: dict[str, str]
    node_of_source: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.nginx.url

    def settings(self) -> Any:
        return test_settings(self.workdir, self.postgres.url, encryption_keys=ENCRYPTION_KEYS)

    def sources_on(self, node: str) -> list[str]:
        return [source for source, name in self.node_of_source.items() if name == node]

    def logs(self) -> str:
        parts = []
        for process in [*self.nodes, self.worker]:
            text = process.log.read_text(errors="replace") if process.log.exists() else ""
            parts.append(f"--- {process.name} ---\n{text[-3000:]}")
        return "\n".join(parts)


def start_cluster(workdir: Path) -> Iterator[Cluster]:
    postgres, redis, rabbitmq = PrivatePostgres(), PrivateRedis(workdir), PrivateRabbitMQ()
    webhook = Webhook()
    started: list[Any] = []
    try:
        rabbitmq.start(wait=False)  # the slowest: boots while the others do
        started.append(rabbitmq)
        postgres.init()
        postgres.start()
        started.append(postgres)
        redis.start()
        started.append(redis)
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("MEDTALK_")},
            "MEDTALK_DATA_DIR": str(workdir / "data"),
            "MEDTALK_DATABASE_URL": postgres.url,
            "MEDTALK_REDIS_URL": redis.url,
            "MEDTALK_AMQP_URL": rabbitmq.url,
            "MEDTALK_JWT_SECRET": TEST_JWT_SECRET,
            "MEDTALK_LINK_SECRET": "test-only-link-secret",
            "MEDTALK_ENCRYPTION_KEYS": ENCRYPTION_KEYS,
            "MEDTALK_AUTO_MIGRATE": "false",
            "MEDTALK_PRESENCE_TTL_SECONDS": "4",
            "MEDTALK_RESYNC_INTERVAL_SECONDS": "1",
            "MEDTALK_OUTBOX_POLL_SECONDS": "0.5",
            "MEDTALK_JOB_RETRY_BASE_SECONDS": "0.5",
            "MEDTALK_NOTIFIER": "webhook",
            "MEDTALK_NOTIFY_WEBHOOK_URL": webhook.url,
            "MEDTALK_NOTIFY_COALESCE_SECONDS": "1",  # 60 by default: the tests run for seconds
            "MEDTALK_LOG_LEVEL": "WARNING",
            "MEDTALK_DATABASE_POOL_SIZE": "5",
        }
        medtalk = str(VENV_BIN / "medtalk")
        # In this process (already warm) while RabbitMQ boots; the nodes must not race on it.
        upgrade(test_settings(workdir, postgres.url, encryption_keys=ENCRYPTION_KEYS))
        nodes = []
        for name in ("node-a", "node-b"):
            port = free_port()
            nodes.append(
                Process(
                    name,
                    [medtalk, "serve", "--port", str(port)],
                    {**env, "MEDTALK_NODE_ID": name},
                    workdir / f"{name}.log",
                    port,
                )
            )
        worker = Process(
            "worker",
            [medtalk, "worker"],
            {**env, "MEDTALK_NODE_ID": "worker"},
            workdir / "worker.log",
        )
        for process in (*nodes, worker):
            process.start(wait=False)
            started.append(process)
        for process in (*nodes, worker):
            process.wait_ready()
        wait_port(rabbitmq.port, 60)
        nginx = Nginx([node.port for node in nodes if node.port])
        nginx.start()
        started.append(nginx)
        cluster = Cluster(postgres, redis, rabbitmq, nodes, worker, nginx, webhook, workdir, env)
        cluster.node_of_source = asyncio.run(_map_sources(nginx.url))
        yield cluster
    finally:
        for thing in reversed(started):
            with contextlib.suppress(Exception):
                thing.stop()
        with contextlib.suppress(Exception):
            postgres.remove()
        with contextlib.suppress(Exception):
            rabbitmq.remove()
        webhook.close()


async def _map_sources(url: str) -> dict[str, str]:
    """Which node nginx sends each source address 127.0.0.2..40 to."""
    mapping: dict[str, str] = {}
    for last in range(2, 41):
        source = f"127.0.0.{last}"
        transport = httpx.AsyncHTTPTransport(local_address=source)
        async with httpx.AsyncClient(transport=transport, timeout=5) as client:
            mapping[source] = (await client.get(f"{url}/healthz")).json()["node"]
    return mapping


# --- clients that survive faults ------------------------------------------------------------


class ClusterClient:
    """One person's Socket.IO connection through nginx from a fixed source address.

    On a disconnect it reconnects (through nginx, so possibly to another node) and rejoins
    its conversations with `lastSeq`, as the browser client does.
    """

    def __init__(self, world: World, token: str, source: str) -> None:
        self.world = world
        self.token = token
        self.source = source
        self.client: socketio.AsyncClient | None = None
        self.session: aiohttp.ClientSession | None = None
        self.received: dict[str, list[int]] = {}
        self.events: list[tuple[str, Any]] = []
        self.joined: set[str] = set()
        self.connected = asyncio.Event()
        self.reconnects = 0
        self._closing = False
        self._reconnecting: asyncio.Task[None] | None = None

    async def connect(self) -> None:
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(local_addr=(self.source, 0), force_close=True)
        )
        client = socketio.AsyncClient(reconnection=False, http_session=self.session)

        @client.on("*", namespace=NAMESPACE)  # type: ignore[misc]
        async def _any(event: str, data: Any = None) -> None:
            if event == "message_received":
                self.received.setdefault(data["conversationId"], []).append(data["seq"])
            else:
                self.events.append((event, data))

        @client.on("disconnect", namespace=NAMESPACE)  # type: ignore[misc]
        async def _gone(*_args: Any) -> None:
            self.connected.clear()
            if not self._closing and self._reconnecting is None:
                self._reconnecting = asyncio.create_task(self._reconnect())

        await client.connect(
            self.world.server.base_url,
            namespaces=[NAMESPACE],
            auth={"token": f"Bearer {self.token}"},
            transports=["websocket"],
            wait_timeout=5,
        )
        self.client = client
        self.connected.set()

    def stays_down(self) -> None:
        """Do not reconnect after the next disconnect (a user who really left)."""
        self._closing = True

    async def _reconnect(self) -> None:
        deadline = time.monotonic() + 40
        try:
            await self._dispose()
            while time.monotonic() < deadline and not self._closing:
                try:
                    await self.connect()
                    for conversation in list(self.joined):
                        await self.join(conversation)
                    self.reconnects += 1
                    return
                except Exception:  # noqa: BLE001 - node or proxy still coming up
                    await self._dispose()
                    await asyncio.sleep(0.3)
        finally:
            self._reconnecting = None

    async def join(self, conversation: str) -> Any:
        seen = self.received.get(conversation)
        payload: dict[str, Any] = {"conversationId": conversation}
        if conversation in self.joined:
            payload["lastSeq"] = seen[-1] if seen else 0
        self.joined.add(conversation)
        return await self.call("join_conversation", payload)

    async def call(self, event: str, data: Any, within: float = 4.0) -> Any:
        assert self.client is not None
        return await self.client.call(event, data, namespace=NAMESPACE, timeout=within)

    async def send(self, conversation: str, text: str, client_id: str, stats: Stats) -> Any:
        """Send until acknowledged (same clientMessageId every time), within 30 s."""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                await asyncio.wait_for(self.connected.wait(), 10)
                ack = await self.call(
                    "send_message",
                    {
                        "conversationId": conversation,
                        "content": text,
                        "contentType": "TEXT",
                        "clientMessageId": client_id,
                    },
                )
                if "error" not in ack:
                    return ack
                stats.errors[ack["error"]["code"]] = stats.errors.get(ack["error"]["code"], 0) + 1
            except Exception as exc:  # noqa: BLE001 - timeouts and disconnects: retry
                stats.errors[type(exc).__name__] = stats.errors.get(type(exc).__name__, 0) + 1
            await asyncio.sleep(0.25)  # retry pace, as a client app would
        raise AssertionError(f"{client_id} was never acknowledged")

    async def _dispose(self) -> None:
        if self.client is not None:
            with contextlib.suppress(Exception):
                await self.client.disconnect()
            self.client = None
        if self.session is not None:
            with contextlib.suppress(Exception):
                await self.session.close()
            self.session = None

    async def close(self) -> None:
        self._closing = True
        if self._reconnecting is not None:
            self._reconnecting.cancel()
        await self._dispose()


@dataclass
class Stats:
    fault: str
    load: str = ""
    sent: int = 0
    acked: int = 0
    received: int = 0
    lost: int = 0
    duplicates: int = 0
    errors: dict[str, int] = field(default_factory=dict)

    def row(self) -> str:
        errors = ", ".join(f"{k} {v}" for k, v in sorted(self.errors.items())) or "-"
        return (
            f"| {self.fault} | {self.load} | {self.sent} | {self.acked} | {self.received} "
            f"| {self.lost} | {self.duplicates} | {errors} |"
        )
