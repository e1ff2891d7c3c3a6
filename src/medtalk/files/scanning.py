"""Malware scanning: a ClamAV daemon client (INSTREAM), and `FileScans`, the work of the durable
`scan_file` job (jobs/kinds/scan.py, retried by the job retry policy): scan one PENDING file,
record CLEAN or INFECTED, announce `file_status` to the conversation."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
import uuid
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

from medtalk.chat import store as chat_store
from medtalk.core import metrics
from medtalk.core.clock import Clock
from medtalk.core.events import EventSink
from medtalk.core.wire import WireModel
from medtalk.db.engine import Database
from medtalk.files import store
from medtalk.files.storage import FileStorage
from medtalk.files.store import CLEAN, INFECTED, PENDING

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


class FileStatusChanged(WireModel):
    """The `file_status` Socket.IO event: a scan finished."""

    file_id: uuid.UUID
    message_id: uuid.UUID | None
    conversation_id: uuid.UUID
    status: str


class FileScans:
    def __init__(
        self,
        db: Database,
        storage: FileStorage,
        clock: Clock,
        events: EventSink,
        scanner: ClamdScanner,
    ) -> None:
        self._db = db
        self._storage = storage
        self._clock = clock
        self._events = events
        self._scanner = scanner

    async def scan(self, file_id: uuid.UUID) -> None:
        """Scan one PENDING file, record the verdict, tell the conversation (the scan job)."""
        async with self._db.read() as db:
            stored = await store.get_file(db, file_id)
        if stored is None or stored.status != PENDING:
            return
        signature = await self._scanner.scan(self._storage.read(stored.storage_key, stored.key_id))
        status = INFECTED if signature else CLEAN
        now = self._clock.now()
        async with self._db.transaction() as db:
            if not await store.record_verdict(db, file_id, status, signature or "OK", now):
                return  # another node recorded the verdict first
            metrics.file_scanned(status.lower())
            message_id = await chat_store.message_id_of_file(db, file_id)
        if signature:
            # The object is kept (encrypted, never served again) for the security team.
            logger.warning("file %s quarantined: malware signature %s", file_id, signature)
        event = FileStatusChanged(
            file_id=file_id,
            message_id=message_id,
            conversation_id=stored.conversation_id,
            status=status,
        )
        await self._events.to_conversation(stored.conversation_id, "file_status", event.wire())
