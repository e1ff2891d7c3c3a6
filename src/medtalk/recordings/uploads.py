"""A recording's media: chunks from the doctor's browser, or Jibri's finished file.

Media is accepted only for a recording the patient agreed to, only from the doctor who asked,
only while it runs (or within the grace after a stop). Each piece is stored encrypted; its row
is written after the bytes, and the bytes are deleted again if the row is not.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from medtalk.calls import rooms
from medtalk.calls.rooms import visible_room
from medtalk.core.auth import Principal
from medtalk.core.clock import Clock
from medtalk.core.errors import Conflict, Forbidden, Invalid, NotFound, TooLarge
from medtalk.db.engine import Database
from medtalk.files.storage import FileStorage
from medtalk.recordings import store
from medtalk.recordings.media import container_of
from medtalk.recordings.schemas import ChunkStored, RecordingAck, RecordingState
from medtalk.recordings.service import RecordingPolicy, RecordingService, recording_in
from medtalk.recordings.store import RecordingRow


class RecordingUploads:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        storage: FileStorage,
        policy: RecordingPolicy,
        recordings: RecordingService,
    ) -> None:
        self._db = db
        self._clock = clock
        self._storage = storage
        self._policy = policy
        self._recordings = recordings

    # --- chunks from the doctor's browser -------------------------------------------------

    async def store_chunk(
        self,
        caller: Principal,
        room_id: uuid.UUID,
        recording_id: uuid.UUID,
        index: int,
        body: AsyncIterator[bytes],
        declared_length: int | None = None,
    ) -> ChunkStored:
        """Store one recorder chunk, encrypted; the same index twice is stored once."""
        async with self._db.read() as db:
            room = await visible_room(db, caller, room_id)
            recording = await recording_in(db, room, recording_id)
            if caller.user_id != recording.requested_by:
                raise Forbidden("only the doctor who is recording uploads its media")
            self._check_accepting(recording)
            existing = await store.chunk_exists(db, recording.id, index)
            received = await store.received_bytes(db, recording.id)
        if existing is not None:
            return ChunkStored(
                recording_id=recording.id, index=index, size=existing.size, duplicate=True
            )
        room_left = self._policy.max_bytes - received
        if declared_length is not None and declared_length > self._policy.chunk_max_bytes:
            raise TooLarge(f"a chunk is limited to {self._policy.chunk_max_bytes} bytes")
        limit = min(self._policy.chunk_max_bytes, room_left)
        stored = await self._put(body, limit, require_container=index == 0)
        try:
            async with self._db.transaction() as db:
                current = await store.get_recording(db, recording.id, lock=True)
                assert current is not None
                self._check_accepting(current)
                await stored.insert(db, recording.id, index, self._clock.now())
        except IntegrityError:
            # The same index arrived twice at once; the other copy won.
            await self._storage.delete(stored.key)
            return ChunkStored(
                recording_id=recording.id, index=index, size=stored.size, duplicate=True
            )
        except BaseException:
            await self._storage.delete(stored.key)
            raise
        return ChunkStored(
            recording_id=recording.id, index=index, size=stored.size, duplicate=False
        )

    def _check_accepting(self, recording: RecordingRow) -> None:
        now = self._clock.now()
        if recording.status == RecordingState.RECORDING:
            return
        in_grace = (
            recording.status == RecordingState.STOPPED
            and recording.next_attempt_at is not None
            and now < recording.next_attempt_at
        )
        if not in_grace:
            raise Conflict(
                "this recording is not running (no consent, declined or stopped)",
                code="NO_ACTIVE_RECORDING",
            )

    async def _put(
        self, body: AsyncIterator[bytes], limit: int, *, require_container: bool
    ) -> _Stored:
        key = secrets.token_hex(20)
        digest = hashlib.sha256()
        size = 0
        head = b""

        async def checked() -> AsyncIterator[bytes]:
            nonlocal size, head
            async for piece in body:
                if require_container and len(head) < 16:
                    head += piece[:16]
                    if len(head) >= 16 and container_of(head) is None:
                        raise Invalid(
                            "a recording starts with a WebM or MP4 header", code="NOT_MEDIA"
                        )
                size += len(piece)
                if size > limit:
                    raise TooLarge(f"the chunk or the recording is over its limit ({limit} bytes)")
                digest.update(piece)
                yield piece

        try:
            key_id = await self._storage.put(key, checked())
        except BaseException:
            await self._storage.delete(key)
            raise
        if size == 0 or (require_container and container_of(head) is None):
            await self._storage.delete(key)
            raise Invalid("the chunk is empty or not WebM/MP4 media", code="NOT_MEDIA")
        return _Stored(key, key_id, size, digest.hexdigest())

    # --- Jibri (provider jitsi) -----------------------------------------------------------

    def jibri_authorized(self, secret: str | None) -> bool:
        """security (issue 16): a configured secret only; unset, no Jibri upload is accepted."""
        if not secret or not self._policy.jibri_secret:
            return False
        if secret == self._policy.refuse_dev_jibri_secret:
            return False
        return hmac.compare_digest(secret.encode(), self._policy.jibri_secret.encode())

    async def store_jibri_file(self, room_ref: str, body: AsyncIterator[bytes]) -> RecordingAck:
        """Jibri's finished file for a room (by id or name), attached to its consented
        recording and handed to the assembly job."""
        async with self._db.read() as db:
            room = await rooms.room_by_ref(db, room_ref)
            recording = await store.latest_consented(db, room.id) if room else None
            if room is None:
                raise NotFound("no such room")
            if recording is None:
                raise Conflict("the patient did not consent to recording", code="NO_CONSENT")
            if recording.source != "jibri":  # security (issue 16): browsers record p2p rooms
                raise Conflict("this room is not recorded by Jibri", code="NOT_JIBRI")
            index = len(await store.chunks(db, recording.id))
        stored = await self._put(body, self._policy.max_bytes, require_container=True)
        now = self._clock.now()
        try:
            async with self._db.transaction() as db:
                await stored.insert(db, recording.id, index, now)
                if not await self._recordings.stop_with_file(db, recording, now):
                    raise Conflict("the recording is already assembled", code="NO_CONSENT")
        except BaseException:
            await self._storage.delete(stored.key)
            raise
        await self._recordings.file_stored(room, recording)
        return RecordingAck(
            room_id=recording.room_id, recording_id=recording.id, status=RecordingState.STOPPED
        )


@dataclass(frozen=True)
class _Stored:
    key: str
    key_id: str | None
    size: int
    sha256: str

    async def insert(
        self, db: AsyncConnection, recording_id: uuid.UUID, index: int, now: datetime
    ) -> None:
        """The chunk row of this stored object."""
        await store.insert_chunk(
            db,
            recording_id=recording_id,
            chunk_index=index,
            storage_key=self.key,
            key_id=self.key_id,
            size=self.size,
            sha256=self.sha256,
            received_at=now,
        )
