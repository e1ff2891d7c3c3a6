"""Opening a file: for a participant of its conversation or a signed link's holder, only once
it is CLEAN. Every opening (by bearer or by signed link) is audited here, whichever door it
came through."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator

from medtalk.audit import AuditTrail, Client, RequestContext
from medtalk.chat.service import ChatService
from medtalk.core.auth import Principal
from medtalk.core.errors import Locked, NotFound
from medtalk.core.streams import prepend
from medtalk.db.engine import Database
from medtalk.files import store
from medtalk.files.links import FileLinks
from medtalk.files.storage import ByteRange, FileStorage
from medtalk.files.store import CLEAN, PENDING, StoredFile

logger = logging.getLogger(__name__)


class FileDownloads:
    def __init__(
        self,
        db: Database,
        storage: FileStorage,
        chat: ChatService,
        links: FileLinks,
        audit: AuditTrail,
        *,
        redirect_ttl_seconds: int | None = None,
    ) -> None:
        self._db = db
        self._storage = storage
        self._chat = chat
        self._links = links
        self._audit = audit
        # Set: downloads redirect to the storage's own presigned URL (S3), after our checks.
        self._redirect_ttl = redirect_ttl_seconds

    async def _load(self, file_id: uuid.UUID) -> StoredFile | None:
        async with self._db.read() as db:
            return await store.get_file(db, file_id)

    async def find(self, file_id: uuid.UUID) -> StoredFile:
        """The file if it may be served now: NotFound if missing, Locked unless CLEAN.
        Not audited: for callers that audit the whole of what they read (exports)."""
        stored = await self._load(file_id)
        if stored is None:
            raise NotFound("no such file")
        return _servable(stored)

    async def open_for(
        self, context: RequestContext, file_id: uuid.UUID, *, thumbnail: bool = False
    ) -> StoredFile:
        """The file (or its thumbnail's row) for a participant of its conversation; audited."""
        stored = await self._load(file_id)
        if stored is None:
            raise NotFound("no such file")
        # Participation before status: a stranger learns nothing about the file.
        await self._chat.conversation_for(context.actor, stored.conversation_id)
        _servable(stored)
        await self._audited_opening(stored, thumbnail, context.actor, context.client)
        return stored

    async def open_by_link(
        self, file_id: uuid.UUID, expires: int, signature: str, client: Client, *, thumbnail: bool
    ) -> StoredFile:
        """The file for whoever holds a valid, unexpired signed link; audited (no actor)."""
        if not self._links.valid(file_id, expires, signature, thumbnail=thumbnail):
            raise NotFound("link expired or invalid", code="LINK_INVALID")
        stored = await self.find(file_id)
        await self._audited_opening(stored, thumbnail, None, client)
        return stored

    async def _audited_opening(
        self, stored: StoredFile, thumbnail: bool, actor: Principal | None, client: Client
    ) -> None:
        await self._audit.record(
            "file.thumbnail" if thumbnail else "file.download",
            actor=actor,
            client=client,
            object_type="file",
            object_id=stored.id,
            conversation_id=stored.conversation_id,
            detail=None if actor else "signed link",
        )

    async def direct_url(self, stored: StoredFile, disposition: str) -> str | None:
        """A presigned storage URL to redirect to, when so configured (S3)."""
        if self._redirect_ttl is None:
            return None
        return await self._storage.download_url(
            stored.storage_key,
            self._redirect_ttl,
            content_type=stored.mime_type,
            disposition=disposition,
        )

    async def content(
        self, stored: StoredFile, wanted: ByteRange | None = None
    ) -> AsyncIterator[bytes]:
        """The file's bytes (or `wanted` of them); NotFound, before anything is sent, if the
        object is gone."""
        stream = (
            self._storage.read(stored.storage_key, stored.key_id)
            if wanted is None
            else self._storage.read_range(stored.storage_key, stored.key_id, wanted)
        )
        try:
            first = await anext(stream)
        except FileNotFoundError:
            logger.error("file %s: stored object is missing", stored.id)
            raise NotFound("no such file") from None
        except StopAsyncIteration:
            first = b""
        return prepend(first, stream)


def _servable(stored: StoredFile) -> StoredFile:
    if stored.status == PENDING:
        raise Locked(
            "the file is being checked for malware; try again shortly", code="FILE_PENDING"
        )
    if stored.status != CLEAN:
        raise Locked(
            "the file failed the malware check and is quarantined", code="FILE_QUARANTINED"
        )
    return stored
