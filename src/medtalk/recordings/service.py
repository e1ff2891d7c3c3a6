"""Recording use cases: consent, withdrawal, chunk uploads, status and downloads.

No recording without consent: media is accepted only for a recording the patient agreed to,
only from the doctor who asked, only while it runs. Persist first, announce after commit.
Assembly of the chunks into one file is an `assemble_recording` job (jobs/kinds/), written in
the transaction that stops the recording; assembler.py does the work.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from medtalk.audit import AuditTrail, Client, RequestContext
from medtalk.calls import rooms
from medtalk.calls.rooms import RoomRow, visible_room
from medtalk.core.auth import Principal
from medtalk.core.clock import Clock, iso_z
from medtalk.core.errors import Conflict, Forbidden, Invalid, Locked, NotFound, TooLarge
from medtalk.core.events import EventSink, announce_to_users
from medtalk.core.ids import new_id
from medtalk.db.engine import Database
from medtalk.files.storage import ByteRange, FileStorage
from medtalk.jobs.kinds import assemble_recording as assembly_job
from medtalk.jobs.outbox import JobOutbox
from medtalk.recordings import store
from medtalk.recordings.links import RecordingLinks
from medtalk.recordings.media import container_of
from medtalk.recordings.schemas import (
    ChunkStored,
    RecordingAck,
    RecordingState,
    RecordingStatus,
)
from medtalk.recordings.store import RecordingRow

logger = logging.getLogger(__name__)
# A recording this long past due that nobody holds has lost its job: the sweep re-queues it.
ORPHANED_AFTER = timedelta(minutes=10)


@dataclass(frozen=True)
class RecordingPolicy:
    chunk_max_bytes: int
    max_bytes: int
    final_chunk_grace: timedelta
    jibri_secret: str
    refuse_dev_jibri_secret: str | None = None  # this value never authenticates


class RecordingService:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        events: EventSink,
        storage: FileStorage,
        links: RecordingLinks,
        policy: RecordingPolicy,
        outbox: JobOutbox,
        audit: AuditTrail | None = None,
    ) -> None:
        self._audit = audit
        self._db = db
        self._clock = clock
        self._events = events
        self._storage = storage
        self.links = links
        self._policy = policy
        self._outbox = outbox

    # --- consent --------------------------------------------------------------------------

    async def request(self, context: RequestContext, room_id: uuid.UUID) -> RecordingAck:
        """The doctor asks to record; the patient is prompted (again, if still unanswered)."""
        caller = context.actor
        now = self._clock.now()
        async with self._db.transaction() as db:
            room = await _in_progress_room(db, caller, room_id)
            if caller.user_id != room.host_id:
                raise Forbidden("only the doctor of the call asks to record it")
            recording = await store.active_recording(db, room.id)
            if recording is not None and recording.status == RecordingState.RECORDING:
                raise Conflict("the call is already being recorded", code="RECORDING_ACTIVE")
            if recording is None:
                recording_id = new_id()
                await store.insert_recording(
                    db,
                    id=recording_id,
                    room_id=room.id,
                    status=RecordingState.REQUESTED.value,
                    source="jibri" if room.provider == "jitsi" else "browser",
                    requested_by=caller.user_id,
                    requested_at=now,
                )
            else:
                recording_id = recording.id
        # audit: recording.requested
        await self._audited(
            "recording.requested", room, recording_id, actor=caller, client=context.client
        )
        await self._emit(
            {room.guest_id},
            "recording_consent_requested",
            {
                "roomId": str(room.id),
                "recordingId": str(recording_id),
                "requestedBy": str(caller.user_id),
                "requestedByName": caller.name,
            },
        )
        return RecordingAck(
            room_id=room.id, recording_id=recording_id, status=RecordingState.REQUESTED
        )

    async def consent(
        self, context: RequestContext, room_id: uuid.UUID, accepted: bool
    ) -> RecordingAck:
        """The patient's answer: recording starts now, or never (for this request)."""
        caller = context.actor
        now = self._clock.now()
        async with self._db.transaction() as db:
            room = await _in_progress_room(db, caller, room_id)
            if caller.user_id != room.guest_id:
                raise Forbidden("only the patient gives or refuses consent")
            recording = await store.active_recording(db, room.id)
            if recording is not None and recording.status == RecordingState.RECORDING and accepted:
                return _ack(recording, RecordingState.RECORDING)  # a repeated "yes"
            if recording is None or recording.status != RecordingState.REQUESTED:
                raise Conflict("nobody asked to record this call", code="NO_RECORDING_REQUEST")
            if accepted:
                values: dict[str, Any] = {
                    "status": RecordingState.RECORDING.value,
                    "consented_by": caller.user_id,
                    "consent_at": now,
                    "started_at": now,
                }
            else:
                values = {"status": RecordingState.DECLINED.value, "declined_at": now}
            await store.update_recording(db, recording.id, expected=("REQUESTED",), **values)
        payload = {"roomId": str(room.id), "recordingId": str(recording.id)}
        if accepted:
            # audit: recording.consent_given
            await self._audited(
                "recording.consent_given", room, recording.id, actor=caller, client=context.client
            )
            await self._emit(
                room.members, "recording_started", {**payload, "startedAt": iso_z(now)}
            )
            return _ack(recording, RecordingState.RECORDING)
        # audit: recording.consent_refused
        await self._audited(
            "recording.consent_refused", room, recording.id, actor=caller, client=context.client
        )
        await self._emit(room.members, "recording_declined", payload)
        return _ack(recording, RecordingState.DECLINED)

    async def stop(self, context: RequestContext, room_id: uuid.UUID) -> RecordingAck:
        """Either side stops the recording (the patient withdraws consent) or the request."""
        caller = context.actor
        async with self._db.transaction() as db:
            room = await visible_room(db, caller, room_id, lock=True)
            if not room.is_member(caller.user_id):
                raise Forbidden("only the call's participants stop its recording")
            recording = await store.active_recording(db, room.id)
            if recording is None:
                raise Conflict("nothing is being recorded", code="NO_ACTIVE_RECORDING")
            state = await self._stop(db, recording, caller.user_id)
        await self._announce_stop(room, recording, state, caller.user_id, context.client)
        return _ack(recording, state)

    async def call_finished(self, room_id: uuid.UUID) -> None:
        """The call ended: a running recording stops, an unanswered request lapses."""
        async with self._db.transaction() as db:
            room = await rooms.room(db, room_id)
            recording = await store.active_recording(db, room_id)
            if room is None or recording is None:
                return
            state = await self._stop(db, recording, None)
        await self._announce_stop(room, recording, state, None)

    async def recover(self) -> None:
        """Crash recovery (a periodic sweep): a call ended but its recording was never
        stopped; a recording is overdue for assembly but no runner holds it (its job was lost,
        e.g. written by a version before assembly jobs)."""
        now = self._clock.now()
        async with self._db.read() as db:
            leftovers = await store.running_in_rooms(db, rooms.finished_room_ids())
            orphans = await store.due_for_assembly(db, now - ORPHANED_AFTER)
        for recording in leftovers:
            await self.call_finished(recording.room_id)
        if orphans:
            async with self._db.transaction() as db:
                for recording_id in orphans:
                    await self._queue_assembly(db, recording_id, now)
            self._outbox.kick()

    async def _queue_assembly(
        self, db: AsyncConnection, recording_id: uuid.UUID, due: datetime
    ) -> None:
        await self._outbox.add(
            db,
            assembly_job.ASSEMBLE_RECORDING,
            assembly_job.payload(recording_id),
            not_before=due,
        )

    async def _stop(
        self, db: AsyncConnection, recording: RecordingRow, stopped_by: uuid.UUID | None
    ) -> RecordingState:
        now = self._clock.now()
        if recording.status == RecordingState.REQUESTED:
            await store.update_recording(
                db, recording.id, expected=("REQUESTED",), status="DECLINED", declined_at=now
            )
            return RecordingState.DECLINED
        # Jibri's file arrives later, by its finalize script; browser chunks within the grace.
        due = None if recording.source == "jibri" else now + self._policy.final_chunk_grace
        await store.update_recording(
            db,
            recording.id,
            expected=("RECORDING",),
            status="STOPPED",
            stopped_at=now,
            stopped_by=stopped_by,
            next_attempt_at=due,
        )
        if due is not None:
            await self._queue_assembly(db, recording.id, due)
        return RecordingState.STOPPED

    async def _announce_stop(
        self,
        room: RoomRow,
        recording: RecordingRow,
        state: RecordingState,
        stopped_by: uuid.UUID | None,
        client: Client | None = None,
    ) -> None:
        payload = {"roomId": str(room.id), "recordingId": str(recording.id)}
        if state == RecordingState.DECLINED:
            # audit: recording.request_withdrawn (stopped_by None: the call ended first)
            await self._audited(
                "recording.request_withdrawn",
                room,
                recording.id,
                actor_id=stopped_by,
                client=client,
            )
            await self._emit(room.members, "recording_declined", payload)
            return
        # audit: recording.consent_withdrawn (by the patient) / recording.stopped
        withdrawn = stopped_by is not None and stopped_by == room.guest_id
        await self._audited(
            "recording.consent_withdrawn" if withdrawn else "recording.stopped",
            room,
            recording.id,
            actor_id=stopped_by,
            client=client,
            detail=None if stopped_by else "call ended",
        )
        self._outbox.kick()
        await self._emit(
            room.members,
            "recording_stopped",
            {
                **payload,
                "stoppedAt": iso_z(self._clock.now()),
                "stoppedBy": str(stopped_by) if stopped_by else None,
            },
        )

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
            recording = await _recording_of(db, room, recording_id)
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
                values: dict[str, Any] = {"status": "STOPPED", "next_attempt_at": now}
                if recording.stopped_at is None:
                    values["stopped_at"] = now
                if not await store.update_recording(
                    db, recording.id, expected=("RECORDING", "STOPPED"), **values
                ):
                    raise Conflict("the recording is already assembled", code="NO_CONSENT")
                await self._queue_assembly(db, recording.id, now)
        except BaseException:
            await self._storage.delete(stored.key)
            raise
        # audit: recording.jibri_upload
        await self._audited("recording.jibri_upload", room, recording.id, detail="jibri")
        if recording.status == RecordingState.RECORDING:
            await self._announce_stop(room, recording, RecordingState.STOPPED, None)
        self._outbox.kick()
        return _ack(recording, RecordingState.STOPPED)

    # --- status and downloads -------------------------------------------------------------

    async def status(
        self, caller: Principal, room_id: uuid.UUID, recording_id: uuid.UUID
    ) -> RecordingStatus:
        async with self._db.read() as db:
            room = await visible_room(db, caller, room_id)
            recording = await _recording_of(db, room, recording_id)
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
            recording = await _recording_of(db, room, recording_id)
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

    async def _audited(
        self,
        action: str,
        room: RoomRow,
        recording_id: uuid.UUID,
        *,
        actor: Principal | None = None,
        actor_id: uuid.UUID | None = None,
        client: Client | None = None,
        detail: str | None = None,
    ) -> None:
        """One audit row (ids and actions only), after the change is committed."""
        if self._audit is None:
            return
        if actor is None and actor_id is not None:
            role = "DOCTOR" if actor_id == room.host_id else "PATIENT"
        else:
            role = None
        try:
            await self._audit.record(
                action,
                actor=actor,
                actor_id=actor_id,
                role=role,
                object_type="recording",
                object_id=recording_id,
                conversation_id=room.conversation_id,
                client=client,
                detail=detail,
            )
        except Exception:
            logger.exception("could not audit %s", action)

    async def _emit(self, user_ids: set[uuid.UUID], event: str, data: dict[str, Any]) -> None:
        await announce_to_users(self._events, user_ids, event, data)


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


def _ack(recording: RecordingRow, state: RecordingState) -> RecordingAck:
    return RecordingAck(room_id=recording.room_id, recording_id=recording.id, status=state)


async def _in_progress_room(db: AsyncConnection, caller: Principal, room_id: uuid.UUID) -> RoomRow:
    # The room row lock serializes consent changes of one room across nodes (PostgreSQL).
    room = await visible_room(db, caller, room_id, lock=True)
    if room.status != "IN_PROGRESS":
        raise Conflict("recording needs a call in progress", code="CALL_NOT_IN_PROGRESS")
    return room


async def _recording_of(
    db: AsyncConnection, room: RoomRow, recording_id: uuid.UUID
) -> RecordingRow:
    recording = await store.get_recording(db, recording_id)
    if recording is None or recording.room_id != room.id:
        raise NotFound("no such recording")
    return recording
