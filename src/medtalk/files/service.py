"""Sending a file: participation first, type from the bytes, size while streaming.

Images are re-encoded without metadata and get a thumbnail; with a malware scanner
configured a file is PENDING until its `scan_file` job (written with the file's row, so it
survives a restart) has scanned it. Every upload is audited here, whichever door it came
through. Opening a file is downloads.py's.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from medtalk.audit import AuditTrail, RequestContext
from medtalk.chat.schemas import ContentType
from medtalk.chat.service import Attachment, ChatService
from medtalk.core.auth import Principal
from medtalk.core.clock import Clock
from medtalk.core.errors import Invalid, TooLarge
from medtalk.core.events import EventSink
from medtalk.core.ratelimit import RateLimiter
from medtalk.core.streams import Measured, once, prepend, read_head
from medtalk.core.wire import WireModel
from medtalk.db.engine import Database
from medtalk.files import images, store
from medtalk.files.links import FileLinks
from medtalk.files.media import MediaCheck
from medtalk.files.scanning import ClamdScanner, FileScans
from medtalk.files.storage import FileStorage
from medtalk.files.store import CLEAN, PENDING, NewFile
from medtalk.files.validation import (
    SNIFF_BYTES,
    UploadLimits,
    clean_file_name,
    sniff,
    with_extension,
)
from medtalk.jobs.kinds import scan as scan_job
from medtalk.jobs.outbox import JobOutbox


class FileUploaded(WireModel):
    message_id: uuid.UUID
    conversation_id: uuid.UUID
    file_id: uuid.UUID
    file_url: str
    thumbnail_url: str | None = None
    file_name: str
    file_size: int
    file_type: ContentType
    mime_type: str
    file_status: str
    seq: int
    duration_seconds: float | None = None  # AUDIO and VIDEO


@dataclass(frozen=True)
class ImagePolicy:
    max_pixels: int = 24_000_000
    thumbnail_px: int = 320
    concurrent_decodes: int = 2  # security (issue 16): each may take 4 bytes a pixel


class FileService:
    def __init__(
        self,
        db: Database,
        storage: FileStorage,
        chat: ChatService,
        clock: Clock,
        events: EventSink,
        outbox: JobOutbox,
        audit: AuditTrail,
        links: FileLinks,
        *,
        limits: UploadLimits,
        image_policy: ImagePolicy | None = None,
        scanner: ClamdScanner | None = None,
        rate_limiter: RateLimiter | None = None,
        media: MediaCheck | None = None,
    ) -> None:
        self._db = db
        self._storage = storage
        self._chat = chat
        self._clock = clock
        self._events = events
        self._outbox = outbox
        self._audit = audit
        self._links = links
        self._limits = limits
        policy = image_policy or ImagePolicy()
        self._images = images.ImageDecoder(
            max_pixels=policy.max_pixels,
            thumbnail_px=policy.thumbnail_px,
            concurrency=policy.concurrent_decodes,
        )
        self._scanner = scanner
        # The scan_file job's work (files/scanning.py); None: files are CLEAN once stored.
        self.scans = FileScans(db, storage, clock, events, scanner) if scanner else None
        self._rate_limiter = rate_limiter
        self._media = media if media is not None and media.available else None

    async def stop(self) -> None:
        await self._storage.close()

    async def upload(
        self,
        context: RequestContext,
        conversation_id: uuid.UUID,
        file_name: str | None,
        declared: ContentType | None,
        chunks: AsyncIterator[bytes],
    ) -> FileUploaded:
        """Store the file and send it as a message of the conversation; audited."""
        uploaded = await self._upload(context.actor, conversation_id, file_name, declared, chunks)
        await self._audit.record(  # ids and size only, never the file name
            "file.upload",
            actor=context.actor,
            client=context.client,
            object_type="file",
            object_id=uploaded.file_id,
            conversation_id=conversation_id,
            detail=f"{uploaded.mime_type} {uploaded.file_size} bytes",
        )
        return uploaded

    async def _upload(
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
        # Spec: files-per-hour 20, checked before any byte is read or stored.
        if self._rate_limiter is not None:
            await self._rate_limiter.check_file(caller.user_id)
        head, rest = await read_head(chunks, SNIFF_BYTES)
        if not head:
            raise Invalid("the file is empty")
        mime, content_type, extension = sniff(head, declared)
        name = clean_file_name(file_name, extension)
        limit = self._limits.for_type(content_type)
        body = _limited(prepend(head, rest), limit, content_type)
        thumbnail: bytes | None = None
        if mime in images.CLEANABLE:
            data = b"".join([piece async for piece in body])  # at most the IMAGE limit
            cleaned = await self._images.clean(data, mime)
            body, thumbnail = once(cleaned.data), cleaned.thumbnail
            if cleaned.mime != mime:  # HEIC is stored as JPEG (files/images.py)
                mime, name = cleaned.mime, with_extension(name, images.EXTENSIONS[cleaned.mime])
        if content_type in (ContentType.AUDIO, ContentType.VIDEO) and self._media is not None:
            async with self._media.checked(body, mime, content_type) as media:
                return await self._store(
                    caller, conversation_id, name, content_type, mime, media.chunks(), None,
                    media.duration_seconds,
                )  # fmt: skip
        return await self._store(caller, conversation_id, name, content_type, mime, body, thumbnail)

    async def _store(
        self,
        caller: Principal,
        conversation_id: uuid.UUID,
        name: str,
        content_type: ContentType,
        mime: str,
        body: AsyncIterator[bytes],
        thumbnail: bytes | None,
        duration: float | None = None,
    ) -> FileUploaded:
        storage_key = secrets.token_hex(20)
        thumbnail_key = secrets.token_hex(20) if thumbnail is not None else None
        measured = Measured(body)
        status = PENDING if self._scanner else CLEAN
        file_id = uuid.uuid4()
        try:
            key_id = await self._storage.put(storage_key, measured.stream())
            thumbnail_key_id = None
            if thumbnail_key is not None and thumbnail is not None:
                thumbnail_key_id = await self._storage.put(thumbnail_key, once(thumbnail))

            row = NewFile(
                id=file_id,
                conversation_id=conversation_id,
                uploader_id=caller.user_id,
                storage_key=storage_key,
                key_id=key_id,
                mime_type=mime,
                size=measured.size,
                sha256=measured.sha256,
                status=status,
                created_at=self._clock.now(),
                thumbnail_key=thumbnail_key,
                thumbnail_key_id=thumbnail_key_id,
                thumbnail_size=len(thumbnail) if thumbnail is not None else None,
                duration_seconds=duration,
            )

            async def insert_file(db: AsyncConnection, message_id: uuid.UUID) -> None:
                await store.insert_file(db, row)
                if status == PENDING:
                    await self._outbox.add(db, scan_job.SCAN_FILE, scan_job.payload(file_id))

            attachment = Attachment(
                file_id,
                name,
                measured.size,
                content_type,
                status,
                thumbnail_key is not None,
                duration,
            )
            message = await self._chat.send_attachment(
                caller, conversation_id, attachment, insert_file
            )
        except BaseException:
            await self._storage.delete(storage_key)
            if thumbnail_key is not None:
                await self._storage.delete(thumbnail_key)
            raise
        if status == PENDING:
            self._outbox.kick()
        return FileUploaded(
            message_id=message.id,
            conversation_id=conversation_id,
            file_id=file_id,
            file_url=self._links.link(file_id),
            thumbnail_url=self._links.thumbnail_link(file_id) if thumbnail_key else None,
            file_name=name,
            file_size=measured.size,
            file_type=content_type,
            mime_type=mime,
            file_status=status,
            seq=message.seq,
            duration_seconds=duration,
        )


async def _limited(
    chunks: AsyncIterator[bytes], limit: int, content_type: ContentType
) -> AsyncIterator[bytes]:
    """Pass the stream through, failing (TooLarge) as soon as it exceeds `limit` bytes."""
    size = 0
    async for piece in chunks:
        size += len(piece)
        if size > limit:
            raise TooLarge(f"{content_type.value} files are limited to {limit} bytes")
        yield piece
