"""A recording's status, its links and its bytes: for the call's participants, an ADMIN, or
whoever holds a signed link. Every opening is audited before a byte is sent."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator

from sqlalchemy.ext.asyncio import AsyncConnection

from medtalk.audit import AuditTrail, Client
from medtalk.calls import rooms
from medtalk.calls.rooms import RoomRow, visible_room
from medtalk.core.auth import Principal
from medtalk.core.errors import Locked, NotFound
from medtalk.db.engine import Database
from medtalk.files.storage import ByteRange, FileStorage
from medtalk.recordings import store
from medtalk.recordings.links import RecordingLinks
from medtalk.recordings.schemas import RecordingState, RecordingStatus
from medtalk.recordings.service import recording_in
from medtalk.recordings.store import RecordingRow

logger = logging.getLogger(__name__)


class RecordingDownloads:
    def __init__(
        self,
        db: Database,
        storage: FileStorage,
        links: RecordingLinks,
        audit: AuditTrail | None = None,
    ) -> None:
        self._db = db
        self._storage = storage
        self.links = links
        self._audit = audit

    # --- status ---------------------------------------------------------------------------

    async def status(
        self, caller: Principal, room_id: uuid.UUID, recording_id: uuid.UUID
    ) -> RecordingStatus:
        async with self._db.read() as db:
            room = await visible_room(db, caller, room_id)
            recording = await recording_in(db, room, recording_id)
            return await self._status(db, recording)

    async def list_for_room(self, caller: Principal, room_id: uuid.UUID) -> list[RecordingStatus]:
        async with self._db.read() as db:
            room = await visible_room(db, caller, room_id)
            return [await self._status(db, r) for r in await store.recordings_of_room(db, room.id)]

    async def _status(self, db: AsyncConnection, recording: RecordingRow) -> RecordingStatus:
        chunks = await store.chunks(db, recording.id)
        ready = recording.status == RecordingState.READY
        return RecordingStatus(
            recording_id=recording.id,
            room_id=recording.room_id,
            status=RecordingState(recording.status),
            source=recording.source,
            requested_by=recording.requested_by,
            requested_at=recording.requested_at,
            consented_by=recording.consented_by,
            consent_at=recording.consent_at,
            declined_at=recording.declined_at,
            started_at=recording.started_at,
            stopped_at=recording.stopped_at,
            stopped_by=recording.stopped_by,
            chunks=[chunk.chunk_index for chunk in chunks],
            received_bytes=sum(chunk.size for chunk in chunks),
            size=recording.size,
            duration_seconds=recording.duration_seconds,
            mime_type=recording.mime_type,
            url=self.links.signed(recording.room_id, recording.id) if ready else None,
            failure=recording.failure,
        )

    async def room_link(self, room: RoomRow) -> str | None:
        """End Call's `recording.url`: a fresh signed link to the room's newest recording."""
        async with self._db.read() as db:
            recording = await store.latest_ready(db, room.id)
        return self.links.signed(room.id, recording.id) if recording else room.recording_url

    # --- downloads ------------------------------------------------------------------------

    async def downloadable(
        self, caller: Principal | None, room_id: uuid.UUID, recording_id: uuid.UUID
    ) -> RecordingRow:
        """A READY recording: for a participant or ADMIN (caller), or a signed link (None)."""
        async with self._db.read() as db:
            room = await rooms.room(db, room_id)
            if room is None:
                raise NotFound("no such recording")
            if caller is not None and not (room.is_member(caller.user_id) or caller.is_admin):
                raise NotFound("no such recording")
            recording = await recording_in(db, room, recording_id)
        if recording.status != RecordingState.READY or recording.storage_key is None:
            raise Locked("the recording is not ready", code="RECORDING_NOT_READY")
        return recording

    async def audit_download(
        self, recording: RecordingRow, caller: Principal | None, client: Client | None
    ) -> None:
        """Every opening of a recording is audited (a signed link has no named caller)."""
        if self._audit is None:
            return
        async with self._db.read() as db:
            room = await rooms.room(db, recording.room_id)
        await self._audit.record(
            "recording.download",
            actor=caller,
            object_type="recording",
            object_id=recording.id,
            conversation_id=room.conversation_id if room else None,
            client=client,
            detail=None if caller else "signed link",
        )

    async def content(
        self, recording: RecordingRow, wanted: ByteRange | None = None
    ) -> AsyncIterator[bytes]:
        assert recording.storage_key is not None
        stream = (
            self._storage.read(recording.storage_key, recording.key_id)
            if wanted is None
            else self._storage.read_range(recording.storage_key, recording.key_id, wanted)
        )
        try:
            first = await anext(stream)
        except FileNotFoundError:
            logger.error("recording %s: stored object is missing", recording.id)
            raise NotFound("no such recording") from None

        async def rest() -> AsyncIterator[bytes]:
            yield first
            async for piece in stream:
                yield piece

        return rest()
