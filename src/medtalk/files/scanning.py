"""Malware scanning: a ClamAV daemon client (INSTREAM) and the in-process scan queue.

The queue runs scans as background tasks with retries; it is not durable by itself: the
file rows are (status PENDING), and FileService re-queues every PENDING file at start-up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from urllib.parse import urlsplit

logger = logging.getLogger(__name__)

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


class ScanQueue:
    """Runs `scan(file_id)` for queued files on a few worker tasks, retrying failures."""

    def __init__(
        self,
        scan: Callable[[uuid.UUID], Awaitable[None]],
        *,
        workers: int = 2,
        retry_delays: tuple[float, ...] = (1, 5, 30, 120, 600),
    ) -> None:
        self._scan = scan
        self._workers = workers
        self._delays = retry_delays
        self._queue: asyncio.Queue[uuid.UUID] = asyncio.Queue()
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        for _ in range(self._workers):
            self._spawn(self._work())

    def enqueue(self, file_id: uuid.UUID) -> None:
        self._queue.put_nowait(file_id)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def idle(self) -> None:
        """Wait until every queued file has been handled once (tests, benchmarks)."""
        await self._queue.join()

    def _spawn(self, job: Awaitable[None]) -> None:
        task = asyncio.ensure_future(job)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _work(self) -> None:
        while True:
            file_id = await self._queue.get()
            try:
                await self._attempt(file_id, 0)
            finally:
                self._queue.task_done()

    async def _attempt(self, file_id: uuid.UUID, attempt: int) -> None:
        try:
            await self._scan(file_id)
        except Exception as error:  # noqa: BLE001 - any failure: retry later, the row stays PENDING
            if attempt >= len(self._delays):
                logger.error("file %s: scan gave up after %d attempts", file_id, attempt + 1)
                return
            delay = self._delays[attempt]
            logger.warning(
                "file %s: scan failed (%s), retrying in %ss", file_id, type(error).__name__, delay
            )
            self._spawn(self._retry(file_id, attempt + 1, delay))

    async def _retry(self, file_id: uuid.UUID, attempt: int, delay: float) -> None:
        await asyncio.sleep(delay)
        await self._attempt(file_id, attempt)
