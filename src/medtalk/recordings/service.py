"""Recording consent and its lifecycle: request, consent, withdrawal, stop, crash recovery.

No recording without consent: the patient agrees, and either side stops it at any time.
Persist first, announce after commit. Stopping writes the `assemble_recording` job
(jobs/kinds/) in the same transaction; assembler.py does that work. The media arrives through
uploads.py, and status and downloads are downloads.py's.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from medtalk.audit import AuditTrail, Client, RequestContext
from medtalk.calls import rooms
from medtalk.calls.rooms import RoomRow, visible_room
from medtalk.core.auth import Principal
from medtalk.core.clock import Clock, iso_z
from medtalk.core.errors import Conflict, Forbidden, NotFound
from medtalk.core.events import EventSink, announce_to_users
from medtalk.core.ids import new_id
from medtalk.db.engine import Database
from medtalk.jobs.kinds import assemble_recording as assembly_job
from medtalk.jobs.outbox import JobOutbox
from medtalk.recordings import store
from medtalk.recordings.schemas import RecordingAck, RecordingState
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
        policy: RecordingPolicy,
        outbox: JobOutbox,
        audit: AuditTrail | None = None,
    ) -> None:
        self._audit = audit
        self._db = db
        self._clock = clock
        self._events = events
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

    async def stop_with_file(
        self, db: AsyncConnection, recording: RecordingRow, now: datetime
    ) -> bool:
        """Jibri's whole file is stored (uploads.py): the recording stops, if it still ran,
        and is due for assembly now. False if it is already past that."""
        values: dict[str, Any] = {"status": "STOPPED", "next_attempt_at": now}
        if recording.stopped_at is None:
            values["stopped_at"] = now
        if not await store.update_recording(
            db, recording.id, expected=("RECORDING", "STOPPED"), **values
        ):
            return False
        await self._queue_assembly(db, recording.id, now)
        return True

    async def file_stored(self, room: RoomRow, recording: RecordingRow) -> None:
        """After `stop_with_file` is committed: audited, and a running recording announced
        as stopped."""
        # audit: recording.jibri_upload
        await self._audited("recording.jibri_upload", room, recording.id, detail="jibri")
        if recording.status == RecordingState.RECORDING:
            await self._announce_stop(room, recording, RecordingState.STOPPED, None)
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


def _ack(recording: RecordingRow, state: RecordingState) -> RecordingAck:
    return RecordingAck(room_id=recording.room_id, recording_id=recording.id, status=state)


async def _in_progress_room(db: AsyncConnection, caller: Principal, room_id: uuid.UUID) -> RoomRow:
    # The room row lock serializes consent changes of one room across nodes (PostgreSQL).
    room = await visible_room(db, caller, room_id, lock=True)
    if room.status != "IN_PROGRESS":
        raise Conflict("recording needs a call in progress", code="CALL_NOT_IN_PROGRESS")
    return room


async def recording_in(db: AsyncConnection, room: RoomRow, recording_id: uuid.UUID) -> RecordingRow:
    """The room's recording by id; NotFound for another room's (uploads and downloads)."""
    recording = await store.get_recording(db, recording_id)
    if recording is None or recording.room_id != room.id:
        raise NotFound("no such recording")
    return recording
