"""Dependencies a test can break and mend: a TCP proxy it cuts, a lossy UDP path, a TURN
server and a Redis server of its own.

Never the machine's shared PostgreSQL or Redis: those serve other test runs at the same time.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from world import free_port


class TcpProxy:
    """Forwards 127.0.0.1:`port` to `target`; `cut()` drops every connection and stops
    listening (the dependency looks down), `restore()` listens again on the same port."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.port = free_port()
        self._target = (target_host, target_port)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._thread.start()

    def _run(self, coroutine) -> None:  # type: ignore[no-untyped-def]
        asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=10)

    def restore(self) -> None:
        self._run(self._listen())

    def cut(self) -> None:
        self._run(self._cut())

    def close(self) -> None:
        self.cut()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(
            self._pipe, "127.0.0.1", self.port, reuse_address=True
        )

    async def _cut(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def _pipe(self, reader: asyncio.StreamReader, client: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream = await asyncio.open_connection(*self._target)
        except OSError:
            client.transport.abort()
            return
        self._writers.update((client, upstream))
        await asyncio.gather(
            _copy(reader, upstream), _copy(upstream_reader, client), return_exceptions=True
        )
        for writer in (client, upstream):
            self._writers.discard(writer)
            writer.transport.abort()


async def _copy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(65536):
        writer.write(data)
        await writer.drain()
    writer.transport.abort()


@contextlib.contextmanager
def tcp_proxy(target_host: str, target_port: int) -> Iterator[TcpProxy]:
    proxy = TcpProxy(target_host, target_port)
    proxy.restore()
    try:
        yield proxy
    finally:
        proxy.close()


class UdpImpairer:
    """A bad network in user space (this kernel has no netem): a UDP relay on 127.0.0.1:`port`
    in front of `target_port` (a TURN server) that drops `loss` (0..1) of the datagrams each
    way and delays the others by `delay` seconds; `outage(seconds)` drops everything for a
    while. Runs on its own thread, so a busy test loop does not add to the delay."""

    def __init__(self, target_port: int, *, loss: float = 0.0, delay: float = 0.0) -> None:
        self.loss = loss
        self.delay = delay
        self.forwarded = 0
        self.dropped = 0
        self._target = ("127.0.0.1", target_port)
        self._random = random.Random(17)  # the same drops every run
        self._down_until = 0.0
        self._upstreams: dict[tuple[str, int], asyncio.DatagramTransport] = {}
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._listener = self._call(self._listen())
        self.port: int = self._listener.get_extra_info("sockname")[1]

    def outage(self, seconds: float) -> None:
        """Nothing passes either way for `seconds` from now."""
        self._down_until = time.monotonic() + seconds

    def close(self) -> None:
        def shut() -> None:
            for transport in [self._listener, *self._upstreams.values()]:
                transport.close()
            self._loop.stop()

        self._loop.call_soon_threadsafe(shut)
        self._thread.join(timeout=5)

    def _call(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=10)

    async def _listen(self) -> asyncio.DatagramTransport:
        transport, _ = await self._loop.create_datagram_endpoint(
            lambda: _Datagrams(self._from_client), local_addr=("127.0.0.1", 0)
        )
        return transport

    def _from_client(self, data: bytes, client: tuple[str, int]) -> None:
        upstream = self._upstreams.get(client)
        if upstream is None:
            self._loop.create_task(self._open_upstream(data, client))
            return
        self._pass(upstream, data, None)

    async def _open_upstream(self, data: bytes, client: tuple[str, int]) -> None:
        if client not in self._upstreams:  # one socket to the target per client address
            upstream, _ = await self._loop.create_datagram_endpoint(
                lambda: _Datagrams(lambda reply, _: self._pass(self._listener, reply, client)),
                remote_addr=self._target,
            )
            self._upstreams[client] = upstream
        self._pass(self._upstreams[client], data, None)

    def _pass(
        self, transport: asyncio.DatagramTransport, data: bytes, to: tuple[str, int] | None
    ) -> None:
        if time.monotonic() < self._down_until or self._random.random() < self.loss:
            self.dropped += 1
            return
        self.forwarded += 1
        if self.delay:
            self._loop.call_later(self.delay, transport.sendto, data, to)
        else:
            transport.sendto(data, to)


class _Datagrams(asyncio.DatagramProtocol):
    def __init__(self, received: Any) -> None:
        self._received = received

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self._received(data, addr)


@contextlib.contextmanager
def udp_impairer(
    target_port: int, *, loss: float = 0.0, delay: float = 0.0
) -> Iterator[UdpImpairer]:
    impairer = UdpImpairer(target_port, loss=loss, delay=delay)
    try:
        yield impairer
    finally:
        impairer.close()


@dataclass
class Coturn:
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"turn:127.0.0.1:{self.port}?transport=udp"


def _free_udp_and_tcp_port() -> int:
    for _ in range(20):
        port = free_port()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port")


@contextlib.contextmanager
def start_coturn(directory: Path, secret: str) -> Iterator[Coturn]:
    """A real coturn (Debian's package) on 127.0.0.1 taking TURN REST credentials signed with
    `secret` (`use-auth-secret`), relaying between loopback peers."""
    binary = shutil.which("turnserver")
    if binary is None:
        message = "coturn (turnserver) is not installed; scripts/test-deps.sh installs it"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    port = _free_udp_and_tcp_port()
    relay_low = 50_000 + port % 10_000
    config = directory / "turnserver.conf"
    config.write_text(
        "\n".join(
            [
                "listening-ip=127.0.0.1",
                "relay-ip=127.0.0.1",
                f"listening-port={port}",
                f"min-port={relay_low}",
                f"max-port={relay_low + 200}",
                "use-auth-secret",
                f"static-auth-secret={secret}",
                "realm=medtalk.test",
                "allow-loopback-peers",
                "no-tls",
                "no-dtls",
                "no-cli",
                "no-multicast-peers",
                "fingerprint",
                f"userdb={directory / 'turndb'}",
                f"pidfile={directory / 'turnserver.pid'}",
                f"log-file={directory / 'turn.log'}",
                "simple-log",
                "verbose",
            ]
        )
        + "\n"
    )
    process = subprocess.Popen(
        [binary, "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    log = directory / "turn.log"
    try:
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            if process.poll() is not None or time.monotonic() > deadline:
                text = log.read_text() if log.exists() else ""
                pytest.fail(f"coturn did not start: {text[-2000:]}")
            time.sleep(0.05)  # a process's port: polled
        yield Coturn(port, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()


class RedisServer:
    """A private redis-server on a free loopback port, stopped and started by the test."""

    def __init__(self, binary: str) -> None:
        self.port = free_port()
        self._binary = binary
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self._process = subprocess.Popen(
            [self._binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--daemonize", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                import socket

                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            time.sleep(0.05)  # a process's port: polled
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)
            self._process = None


@contextlib.contextmanager
def private_redis() -> Iterator[RedisServer]:
    binary = shutil.which("redis-server")
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("redis-server is required in CI for the Redis readiness test")
        pytest.skip("redis-server is not installed")
    redis = RedisServer(binary)
    redis.start()
    try:
        yield redis
    finally:
        redis.stop()
