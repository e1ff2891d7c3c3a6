"""Malware scanning: a ClamAV daemon client (INSTREAM). Scans run as durable `scan_file` jobs
(jobs/kinds/scan.py), retried by the job retry policy."""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

# clamd refuses INSTREAM chunks over its StreamMaxLength in total; each chunk is length-prefixed.
CHUNK = 256 * 1024


class ScanError(Exception):
    """clamd could not give a verdict (unreachable, timed out, size limit, error reply)."""


class ClamdScanner:
    """Talks to clamd over TCP (`tcp://host:port`) or a unix socket (`/path` or `unix:///path`)."""

    def __init__(self, url: str, timeout_seconds: float = 120.0) -> None:
        parts = urlsplit(url)
        self._unix_path: str | None = None
        self._address: tuple[str, int] | None = None
        if parts.scheme == "tcp":
            self._address = (parts.hostname or "127.0.0.1", parts.port or 3310)
        elif parts.scheme in ("unix", ""):
            self._unix_path = parts.path
        else:
            raise ValueError(f"MEDTALK_CLAMD_URL {url!r} is neither tcp://host:port nor a path")
        self._timeout = timeout_seconds

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._unix_path is not None:
            return await asyncio.open_unix_connection(self._unix_path)
        assert self._address is not None
        return await asyncio.open_connection(*self._address)

    async def scan(self, chunks: AsyncIterator[bytes]) -> str | None:
        """The signature name if the stream is infected, None if it is clean."""
        try:
            async with asyncio.timeout(self._timeout):
                reply = await self._instream(chunks)
        except (OSError, TimeoutError, asyncio.IncompleteReadError) as error:
            raise ScanError(f"clamd unavailable: {type(error).__name__}") from None
        return _verdict(reply)

    async def ping(self) -> bool:
        try:
            async with asyncio.timeout(5):
                reader, writer = await self._connect()
                try:
                    writer.write(b"zPING\0")
                    await writer.drain()
                    return (await reader.readuntil(b"\0")).rstrip(b"\0") == b"PONG"
                finally:
                    writer.close()
        except (OSError, TimeoutError, asyncio.IncompleteReadError):
            return False

    async def _instream(self, chunks: AsyncIterator[bytes]) -> str:
        reader, writer = await self._connect()
        try:
            writer.write(b"zINSTREAM\0")
            async for piece in chunks:
                for start in range(0, len(piece), CHUNK):
                    part = piece[start : start + CHUNK]
                    writer.write(struct.pack(">I", len(part)) + part)
                    await writer.drain()
            writer.write(struct.pack(">I", 0))
            await writer.drain()
            return (await reader.readuntil(b"\0")).rstrip(b"\0").decode(errors="replace")
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


def _verdict(reply: str) -> str | None:
    # "stream: OK" | "stream: Eicar-Test-Signature FOUND" | "INSTREAM size limit exceeded. ERROR"
    if reply.endswith(" FOUND"):
        return reply.removeprefix("stream:").removesuffix(" FOUND").strip() or "unknown"
    if reply.endswith(": OK") or reply == "OK":
        return None
    raise ScanError(f"clamd answered {reply[:100]!r}")
