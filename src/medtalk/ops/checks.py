"""Readiness: a registry of dependency checks, and the checks for what medtalk depends on.

Each feature registers the dependencies it uses, where it builds their clients:

    services.readiness.register("redis", redis_check(settings.redis_url))
    services.readiness.register("rabbitmq", lambda: channel_is_open(...))

A check is an async callable that returns on success and raises on failure. `/readyz` runs
them all concurrently, each under a timeout, and answers 503 when a required one fails.
"""

from __future__ import annotations

import asyncio
import os
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from medtalk.core import metrics
from medtalk.db.engine import Database

Check = Callable[[], Awaitable[Any]]


@dataclass(frozen=True)
class CheckResult:
    name: str
    up: bool
    required: bool
    latency_ms: float
    error: str | None = None

    def wire(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "status": "up" if self.up else "down",
            "required": self.required,
            "latencyMs": self.latency_ms,
        }
        if self.error:
            body["error"] = self.error
        return body


@dataclass(frozen=True)
class Report:
    checks: list[CheckResult]

    @property
    def ready(self) -> bool:
        return all(check.up for check in self.checks if check.required)

    def wire(self) -> dict[str, Any]:
        degraded = any(not check.up for check in self.checks)
        status = "ok" if not degraded else ("degraded" if self.ready else "unavailable")
        return {"status": status, "checks": {c.name: c.wire() for c in self.checks}}


class Readiness:
    """Named dependency checks; `run()` checks them all and records medtalk_dependency_up."""

    def __init__(self, timeout_seconds: float = 2.0) -> None:
        self._timeout = timeout_seconds
        self._checks: dict[str, tuple[Check, bool]] = {}

    def register(self, name: str, check: Check, *, required: bool = True) -> None:
        """Add (or replace) the check called `name`; a failing required check means 503."""
        self._checks[name] = (check, required)

    def names(self) -> list[str]:
        return list(self._checks)

    async def run(self) -> Report:
        results = await asyncio.gather(
            *(self._run_one(name, check, req) for name, (check, req) in self._checks.items())
        )
        return Report(list(results))

    async def _run_one(self, name: str, check: Check, required: bool) -> CheckResult:
        started = time.perf_counter()
        error: str | None = None
        try:
            await asyncio.wait_for(check(), self._timeout)
        except TimeoutError:
            error = f"no answer within {self._timeout:g} s"
        except Exception as exc:  # noqa: BLE001 - any failure means "down"; the type says why
            error = type(exc).__name__
        elapsed = time.perf_counter() - started
        metrics.dependency_checked(name, error is None, elapsed)
        return CheckResult(name, error is None, required, round(elapsed * 1000, 1), error)


# --- checks -------------------------------------------------------------------------------


def database_check(db: Database) -> Check:
    return db.ping


def directory_check(path: Path) -> Check:
    """Local file storage: the directory exists (or can be made) and is writable."""

    async def check() -> None:
        if not await asyncio.to_thread(_writable_directory, path):
            raise PermissionError("storage directory is not writable")

    return check


def _writable_directory(path: Path) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    return os.access(path, os.W_OK | os.X_OK)


def redis_check(url: str) -> Check:
    """PING over RESP (with AUTH from the URL); needs no client library."""
    parts = urlsplit(url)

    async def check() -> None:
        tls = parts.scheme == "rediss"
        reader, writer = await _open(parts.hostname or "127.0.0.1", parts.port or 6379, tls)
        try:
            if parts.password:
                words = ["AUTH", unquote(parts.password)]
                if parts.username:
                    words.insert(1, unquote(parts.username))
                await _redis_command(reader, writer, words, expect=b"+OK")
            await _redis_command(reader, writer, ["PING"], expect=b"+PONG")
        finally:
            writer.close()

    return check


def amqp_check(url: str) -> Check:
    """Open a TCP connection and send the AMQP 0-9-1 header; the broker must answer with
    Connection.Start (a method frame). Proves the broker is up, not that our credentials work."""
    parts = urlsplit(url)

    async def check() -> None:
        tls = parts.scheme == "amqps"
        port = parts.port or (5671 if tls else 5672)
        reader, writer = await _open(parts.hostname or "127.0.0.1", port, tls)
        try:
            writer.write(b"AMQP\x00\x00\x09\x01")
            await writer.drain()
            frame = await reader.readexactly(7)
            if frame[0] != 1:  # 1 = method frame (Connection.Start)
                raise ConnectionError("not an AMQP 0-9-1 broker")
        finally:
            writer.close()

    return check


async def _open(
    host: str, port: int, tls: bool
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    context = ssl.create_default_context() if tls else None
    return await asyncio.open_connection(host, port, ssl=context)


async def _redis_command(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, words: list[str], *, expect: bytes
) -> None:
    encoded = [word.encode() for word in words]
    bulk = b"".join(b"$%d\r\n%s\r\n" % (len(word), word) for word in encoded)
    writer.write(b"*%d\r\n" % len(encoded) + bulk)
    await writer.drain()
    answer = await reader.readline()
    if not answer.startswith(expect):
        raise ConnectionError("unexpected Redis answer")  # never echo it: it may name the user
