"""Uploads and downloads: participation first, type from the bytes, size while streaming."""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from medtalk.chat.schemas import ContentType
from medtalk.chat.service import Attachment, ChatService
from medtalk.core.auth import Principal
from medtalk.core.clock import Clock
from medtalk.core.crypto import sign, signature_matches
from medtalk.core.errors import Invalid, NotFound, TooLarge
from medtalk.core.ratelimit import RateLimiter
from medtalk.core.wire import WireModel
from medtalk.db.engine import Database
from medtalk.db.tables import chat_files
from medtalk.files.storage import FileStorage
from medtalk.files.validation import SNIFF_BYTES, clean_file_name, sniff


class FileUploaded(WireModel):
    message_id: uuid.UUID
    conversation_id: uuid.UUID
    file_id: uuid.UUID
    file_url: str
    file_name: str
    file_size: int
    file_type: ContentType
    mime_type: str
    seq: int


@dataclass(frozen=True)
class StoredFile:
    id: uuid.UUID
    conversation_id: uuid.UUID
    storage_key: str
    key_id: str | None
    mime_type: str
    size: int
    status: str


class FileService:
    def __init__(
        self,
        db: Database,
        storage: FileStorage,
        chat: ChatService,
        clock: Clock,
        *,
        link_secret: str,
        link_ttl_seconds: int,
        max_bytes: int,
        public_url: str,
        rate_limiter: RateLimiter | None = None,
    ) -> None:
        self._db = db
        self._storage = storage
        self._chat = chat
        self._clock = clock
        self._link_secret = link_secret
        self._link_ttl = link_ttl_seconds
        self._max_bytes = max_bytes
        self._public_url = public_url.rstrip("/")
        self._rate_limiter = rate_limiter
        chat.set_file_link(self.link)

    # --- links ----------------------------------------------------------------------------

    def link(self, file_id: uuid.UUID) -> str:
        """A short-lived signed download link (works without a bearer header, e.g. <img>)."""
        expires = int(time.time()) + self._link_ttl
        signature = sign(self._link_secret, f"{file_id}:{expires}")
        return f"{self._public_url}/api/v1/chat/files/{file_id}?expires={expires}&sig={signature}"

    def link_is_valid(self, file_id: uuid.UUID, expires: int, signature: str) -> bool:
        if expires < int(time.time()):
            return False
        return signature_matches(self._link_secret, f"{file_id}:{expires}", signature)

    # --- upload ---------------------------------------------------------------------------

    async def upload(
        self,
        caller: Principal,
        conversation_id: uuid.UUID,
        file_name: str | None,
        declared: ContentType | None,
        chunks: AsyncIterator[bytes],
    ) -> FileUploaded:
        if declared is ContentType.TEXT:
            raise Invalid("fileType must be IMAGE, FILE, AUDIO or VIDEO")
        # Participation before a single byte is stored.
        await self._chat.conversation_for(caller, conversation_id)
        if self._rate_limiter is not None:
            await self._rate_limiter.check_file(caller.user_id)
        head, rest = await _read_head(chunks, SNIFF_BYTES)
        if not head:
            raise Invalid("the file is empty")
        mime, content_type, extension = sniff(head, declared)
        name = clean_file_name(file_name, extension)
        storage_key = secrets.token_hex(20)
        digest = hashlib.sha256()
        size = 0

        async def counted() -> AsyncIterator[bytes]:
            nonlocal size
            async for piece in _prepend(head, rest):
                size += len(piece)
                if size > self._max_bytes:
                    raise TooLarge(f"the file is larger than {self._max_bytes} bytes")
                digest.update(piece)
                yield piece

        key_id = await self._storage.put(storage_key, counted())
        file_id = uuid.uuid4()

        async def insert_file(db: AsyncConnection, message_id: uuid.UUID) -> None:
            await db.execute(
                chat_files.insert().values(
                    id=file_id,
                    conversation_id=conversation_id,
                    uploader_id=caller.user_id,
                    storage_key=storage_key,
                    mime_type=mime,
                    size=size,
                    sha256=digest.hexdigest(),
                    key_id=key_id,
                    status="CLEAN",
                    created_at=self._clock.now(),
                )
            )

        attachment = Attachment(file_id, name, size, content_type)
        try:
            message = await self._chat.send_attachment(
                caller, conversation_id, attachment, insert_file
            )
        except BaseException:
            await self._storage.delete(storage_key)
            raise
        return FileUploaded(
            message_id=message.id,
            conversation_id=conversation_id,
            file_id=file_id,
            file_url=self.link(file_id),
            file_name=name,
            file_size=size,
            file_type=content_type,
            mime_type=mime,
            seq=message.seq,
        )

    # --- download -------------------------------------------------------------------------

    async def find(self, file_id: uuid.UUID) -> StoredFile:
        async with self._db.read() as db:
            row = (
                await db.execute(sa.select(chat_files).where(chat_files.c.id == file_id))
            ).first()
        if row is None or row.status != "CLEAN":
            raise NotFound("no such file")
        return StoredFile(
            id=row.id,
            conversation_id=row.conversation_id,
            storage_key=row.storage_key,
            key_id=row.key_id,
            mime_type=row.mime_type,
            size=row.size,
            status=row.status,
        )

    async def find_for(self, caller: Principal, file_id: uuid.UUID) -> StoredFile:
        stored = await self.find(file_id)
        await self._chat.conversation_for(caller, stored.conversation_id)
        return stored

    def content(self, stored: StoredFile) -> AsyncIterator[bytes]:
        return self._storage.read(stored.storage_key, stored.key_id)


async def _read_head(
    chunks: AsyncIterator[bytes], wanted: int
) -> tuple[bytes, AsyncIterator[bytes]]:
    head = b""
    async for piece in chunks:
        head += piece
        if len(head) >= wanted:
            break
    return head, chunks


async def _prepend(head: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    yield head
    async for piece in rest:
        yield piece
