"""Video-call use cases: one state machine per room, authorization, persist first, announce after.

    WAITING --(host and guest both joined)--> IN_PROGRESS --(end/hangup/max duration)--> ENDED
    WAITING --(end before both joined, or the room expired)--> CANCELLED

Only the room's host (the doctor), its guest (the patient) and ADMIN may see a room; anyone else
gets NotFound, so room ids reveal nothing.
"""

from __future__ import annotations

import asyncio
import logging
import math
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from medtalk.audit import AuditTrail, RequestContext
from medtalk.calls import store
from medtalk.calls.providers import RoomTokenRequest, VideoProvider, ice_configuration
from medtalk.calls.rooms import check_open, visible_room
from medtalk.calls.schemas import (
    Admitted,
    CallEnded,
    CreateRoomRequest,
    DeviceInfo,
    EndReason,
    IceConfiguration,
    JoinedRoom,
    OpenRoom,
    OpenRooms,
    Participant,
    Recording,
    RoomCreated,
    RoomStatus,
    RoomToken,
    WaitingParticipant,
)
from medtalk.calls.signaling import CallSignaling
from medtalk.calls.store import RoomRow
from medtalk.core import metrics
from medtalk.core.auth import Principal, Role
from medtalk.core.clock import Clock, iso_z
from medtalk.core.errors import Conflict, Forbidden, Invalid, NotFound, RateLimited
from medtalk.core.events import EventSink, Topic, announce_to_users
from medtalk.core.ids import new_id
from medtalk.db.engine import Database, after_commit
from medtalk.jobs.kinds import record_call
from medtalk.jobs.outbox import JobOutbox
from medtalk.settings import Settings

logger = logging.getLogger(__name__)

DAY = timedelta(hours=24)
# A fresh signed link to a room's finished recording (recordings/ provides it), or None.
RecordingLink = Callable[[RoomRow], Awaitable[str | None]]


@dataclass(frozen=True)
class CallPolicy:
    """The call rules from settings (spec: 10 rooms a day, 60 minutes at most)."""

    max_duration: timedelta
    default_duration_minutes: float
    join_early: timedelta
    rooms_per_day: int
    stun_urls: tuple[str, ...] = ()
    turn_urls: tuple[str, ...] = ()
    turn_secret: str = ""
    rejoin_grace_seconds: float = 60.0
    ring: timedelta = timedelta(seconds=60)

    @classmethod
    def from_settings(cls, settings: Settings) -> CallPolicy:
        max_minutes = settings.call_max_duration_minutes
        return cls(
            max_duration=timedelta(minutes=max_minutes),
            default_duration_minutes=min(settings.call_default_duration_minutes, max_minutes),
            join_early=timedelta(minutes=settings.call_join_early_minutes),
            rooms_per_day=settings.rooms_per_day,
            stun_urls=tuple(settings.stun_urls),
            turn_urls=tuple(settings.turn_urls),
            turn_secret=settings.turn_secret,
            rejoin_grace_seconds=settings.call_rejoin_grace_seconds,
            ring=timedelta(seconds=settings.call_ring_seconds),
        )


class CallService:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        events: EventSink,
        provider: VideoProvider,
        policy: CallPolicy,
        recording_link: RecordingLink,
        audit: AuditTrail,
        outbox: JobOutbox,
    ) -> None:
        self._db = db
        self._clock = clock
        self._events = events
        self._provider = provider
        self._policy = policy
        # End Call answers with a fresh signed link to the finished recording (issue 10).
        self._recording_link = recording_link
        self._audit = audit
        # The call's message in its conversation is a job written with the room's end.
        self._outbox = outbox
        # Committed facts others react to (the max-duration enforcer re-plans its deadline;
        # call recording stops a running recording), by room id.
        self.call_started: Topic[uuid.UUID] = Topic("call_started")
        self.call_finished: Topic[uuid.UUID] = Topic("call_finished")
        # What participants' pages exchange during the call (offer/answer/candidates, stats).
        self.signaling = CallSignaling(db, clock, events, provider.name)
        # Users whose connection dropped: they leave when the grace period ends (issue 17).
        self._away: dict[uuid.UUID, asyncio.Task[None]] = {}

    # --- rooms ----------------------------------------------------------------------------

    async def create_room(self, context: RequestContext, request: CreateRoomRequest) -> RoomCreated:
        """The doctor of a conversation or appointment opens a room for it."""
        caller = context.actor
        if caller.role is not Role.DOCTOR:
            raise Forbidden("only the consultation's doctor creates a video room")
        minutes = self._planned_minutes(request.duration)
        now = self._clock.now()
        room_id = new_id()
        room_name = f"consultation-{room_id.hex[:12]}"
        async with self._db.transaction() as db:
            patient_id, conversation_id, booked_time = await self._parties(db, caller, request)
            # The join window is the appointment's unless the doctor names another time.
            scheduled = request.scheduled_time or booked_time
            basis = scheduled or now
            if basis.tzinfo is None:
                basis = basis.replace(tzinfo=now.tzinfo)
            expires_at = basis + timedelta(minutes=minutes)
            if expires_at <= now and request.scheduled_time is not None:
                raise Invalid("scheduledTime + duration is already in the past")
            if expires_at <= now:
                raise Conflict("the appointment's time is over", code="APPOINTMENT_OVER")
            await self._check_rate_limit(db, caller.user_id, now)
            names = await store.user_names(db, {caller.user_id, patient_id})
            await store.insert_room(
                db,
                id=room_id,
                room_name=room_name,
                appointment_id=request.appointment_id,
                conversation_id=conversation_id,
                host_id=caller.user_id,
                guest_id=patient_id,
                status=RoomStatus.WAITING.value,
                scheduled_time=scheduled,
                created_at=now,
                provider=self._provider.name,
                planned_duration=math.ceil(minutes),
                max_duration_seconds=math.ceil(self._policy.max_duration.total_seconds()),
                opens_at=(basis - self._policy.join_early) if scheduled else now,
                expires_at=expires_at,
            )
            room = await store.get_room(db, room_id)
        assert room is not None
        join_url = self._provider.join_url(room.id, room.room_name, None)
        created = RoomCreated(
            room_id=room.id,
            room_name=room.room_name,
            join_url=join_url,
            host_token=self._token(room, caller.user_id, names[caller.user_id], Role.DOCTOR),
            guest_token=self._token(room, patient_id, names.get(patient_id, ""), Role.PATIENT),
            expires_at=expires_at,
            status=RoomStatus.WAITING,
            conversation_id=conversation_id,
            appointment_id=request.appointment_id,
            provider=self._provider.name,
        )
        metrics.call_setup_attempted(self._provider.name)
        incoming = self._open_room(room, names[caller.user_id]).model_dump(
            mode="json", by_alias=True, exclude={"status", "expires_at", "waiting"}
        )  # exactly the contract's call_incoming fields
        await self._events.to_user(patient_id, "call_incoming", incoming)
        await self._audited(context, "room.create", room.id, conversation_id=conversation_id)
        return created

    async def open_rooms(self, caller: Principal) -> OpenRooms:
        """Rooms the caller may still join, so a patient who was offline when the doctor
        called (and missed `call_incoming`) can still answer, and a doctor sees who waits."""
        async with self._db.read() as db:
            rooms = await store.open_rooms_of(db, caller.user_id, self._clock.now())
            names = await store.user_names(db, {room.host_id for room in rooms})
            hosted = [room.id for room in rooms if room.host_id == caller.user_id]
            waiting = await store.waiting_participants(db, hosted) if hosted else {}
        listed = []
        for room in rooms:
            listed.append(self._open_room(room, names.get(room.host_id, "")))
            listed[-1].waiting = [
                WaitingParticipant(user_id=user_id, user_name=name)
                for user_id, name in waiting.get(room.id, [])
            ]
        return OpenRooms(rooms=listed)

    def _open_room(self, room: RoomRow, host_name: str) -> OpenRoom:
        return OpenRoom(
            room_id=room.id,
            room_name=room.room_name,
            conversation_id=room.conversation_id,
            caller_id=room.host_id,
            caller_name=host_name,
            join_url=self._provider.join_url(room.id, room.room_name, None),
            status=RoomStatus(room.status),
            expires_at=room.expires_at,
        )

    def _planned_minutes(self, requested: int | None) -> float:
        if requested is None:
            return self._policy.default_duration_minutes
        longest = self._policy.max_duration.total_seconds() / 60
        if requested > longest:
            raise Invalid(f"duration is at most {longest:g} minutes")
        return float(requested)

    async def _parties(
        self, db: AsyncConnection, caller: Principal, request: CreateRoomRequest
    ) -> tuple[uuid.UUID, uuid.UUID | None, datetime | None]:
        """(patient, conversation, the appointment's time) of the call; NotFound unless the
        caller is its doctor."""
        patient_id: uuid.UUID | None = None
        booked_time: datetime | None = None
        conversation_id = request.conversation_id
        if conversation_id is not None:
            parties = await store.conversation_parties(db, conversation_id)
            if parties is None or parties[1] != caller.user_id:
                raise NotFound("no such conversation")
            patient_id, _doctor, appointment_id, status = parties
            if status != "ACTIVE":
                raise Conflict("the conversation is closed", code="CONVERSATION_CLOSED")
            if request.appointment_id and appointment_id not in (None, request.appointment_id):
                raise Invalid("the appointment belongs to another conversation")
        if request.appointment_id is not None:
            booked = await store.appointment_parties(db, request.appointment_id)
            if booked is None or booked[1] != caller.user_id:
                raise NotFound("no such appointment")
            if patient_id not in (None, booked[0]):
                raise Invalid("the appointment and the conversation have different patients")
            patient_id, booked_time = booked[0], booked[2]
            if conversation_id is None:
                conversation_id = await store.conversation_of_appointment(
                    db, request.appointment_id
                )
        assert patient_id is not None
        return patient_id, conversation_id, booked_time

    async def _check_rate_limit(
        self, db: AsyncConnection, user_id: uuid.UUID, now: datetime
    ) -> None:
        await store.lock_user(db, user_id)
        count, oldest = await store.rooms_created_since(db, user_id, now - DAY)
        if count >= self._policy.rooms_per_day and oldest is not None:
            retry_after = max(1, math.ceil((oldest + DAY - now).total_seconds()))
            metrics.limit_hit("rooms-per-day")
            raise RateLimited(
                f"at most {self._policy.rooms_per_day} rooms per day", retry_after=retry_after
            )

    async def room_token(self, context: RequestContext, room_id: uuid.UUID) -> RoomToken:
        """The caller's provider token, join link and ICE servers (TURN credentials included)."""
        caller = context.actor
        async with self._db.read() as db:
            room = await visible_room(db, caller, room_id)
        now = self._clock.now()
        check_open(room, now, early_ok=True)
        token = self._token(room, caller.user_id, caller.name, caller.role)
        await self._audited(context, "room.token", room.id)
        return RoomToken(
            access_token=token,
            join_url=self._provider.join_url(room.id, room.room_name, token),
            provider=room.provider,
            room_name=room.room_name,
            configuration=self._ice(room, caller.user_id),
        )

    async def ice_servers(self, caller: Principal, room_id: uuid.UUID) -> IceConfiguration:
        """Fresh ICE servers for a participant of a running call (`call_ice_servers`): a long
        call fetches new TURN credentials before its old ones expire, for its next restart."""
        async with self._db.read() as db:
            room = await visible_room(db, caller, room_id)
            if await store.get_participant(db, room.id, caller.user_id) is None:
                raise Conflict("join the room first", code="NOT_JOINED")
        check_open(room, self._clock.now(), early_ok=True)
        return self._ice(room, caller.user_id)

    def _ice(self, room: RoomRow, user_id: uuid.UUID) -> IceConfiguration:
        ice = ice_configuration(
            list(self._policy.stun_urls),
            list(self._policy.turn_urls),
            self._policy.turn_secret or None,
            str(user_id),
            self._token_expiry(room),
        )
        return IceConfiguration.model_validate(ice)

    async def _audited(
        self,
        context: RequestContext,
        action: str,
        room_id: uuid.UUID,
        *,
        conversation_id: uuid.UUID | None = None,
        detail: str | None = None,
    ) -> None:
        """The audit row of what the caller did to a room, whichever door they came by."""
        await self._audit.record(
            action,
            actor=context.actor,
            client=context.client,
            object_type="room",
            object_id=room_id,
            conversation_id=conversation_id,
            detail=detail,
        )

    def _token(self, room: RoomRow, user_id: uuid.UUID, name: str, role: Role) -> str:
        return self._provider.issue_token(
            RoomTokenRequest(
                room_id=room.id,
                room_name=room.room_name,
                user_id=user_id,
                user_name=name,
                role=role.value,
                is_host=user_id == room.host_id,
                expires_at=self._token_expiry(room),
                not_before=room.opens_at or room.created_at,
            )
        )

    def _token_expiry(self, room: RoomRow) -> datetime:
        """Tokens and TURN credentials live as long as the call can: from its last possible
        start to its maximum duration."""
        start = room.started_at or room.expires_at or room.created_at
        return start + self._max_duration(room)

    def _max_duration(self, room: RoomRow) -> timedelta:
        if room.max_duration_seconds:
            return timedelta(seconds=room.max_duration_seconds)
        return self._policy.max_duration

    # --- joining and leaving ----------------------------------------------------------------

    async def join_room(
        self, context: RequestContext, room_id: uuid.UUID, device: DeviceInfo | None
    ) -> JoinedRoom:
        """Enter the room. The host is in at once, and so is the guest answering the host's
        ring; anyone else waits until the host admits them. When the host and the admitted
        guest are both in, the call starts."""
        caller = context.actor
        device = device or DeviceInfo()
        now = self._clock.now()
        async with self._db.transaction() as db:
            room = await visible_room(db, caller, room_id, lock=True)
            check_open(room, now, early_ok=False)
            entered = await store.upsert_participant(
                db,
                room.id,
                caller.user_id,
                caller.role.value,
                now,
                video=device.has_camera,
                audio=device.has_microphone,
                browser=device.browser,
                admitted=self._let_in_on_join(room, caller.user_id, now),
            )
            present = await store.participants(db, room.id)
            started = await self._start_if_ready(db, room, present, now)
        status = RoomStatus.IN_PROGRESS if started else RoomStatus(room.status)
        me = next(p for p in present if p.user_id == caller.user_id)
        self._came_back(caller.user_id)
        event = _participant_event(room.id, caller.user_id, caller.name, caller.role.value)
        if not me.admitted:  # in the waiting room: only the host hears of it
            await self._emit({room.host_id}, "participant_waiting", event)
        # A page joining a running call it never left was reloaded: its peer connection is
        # new, so the other side must renegotiate; participant_joined tells it to.
        elif entered or status == RoomStatus.IN_PROGRESS:
            await self._emit(room.members - {caller.user_id}, "participant_joined", event)
        if started:
            await self._announce_start(room, now)
        await self._audited(context, "room.join", room.id)
        return JoinedRoom(
            participants=[_participant(p) for p in present],
            status=status,
            started_at=now if started else room.started_at,
            admitted=me.admitted,
        )

    def _let_in_on_join(self, room: RoomRow, user_id: uuid.UUID, now: datetime) -> bool:
        """The host, or the guest answering a call the host placed on the spot (no appointment,
        no scheduled time) while it rings: the host is on the call page, or about to be."""
        if user_id == room.host_id:
            return True
        on_the_spot = room.appointment_id is None and room.scheduled_time is None
        return (
            user_id == room.guest_id and on_the_spot and now <= room.created_at + self._policy.ring
        )

    async def admit(
        self, context: RequestContext, room_id: uuid.UUID, user_id: uuid.UUID
    ) -> Admitted:
        """The host lets a participant in from the waiting room (`call_admit`, POST admit);
        with the host in the room, the call starts. Admitting twice is harmless."""
        caller = context.actor
        now = self._clock.now()
        async with self._db.transaction() as db:
            room = await visible_room(db, caller, room_id, lock=True)
            if caller.user_id != room.host_id:
                raise Forbidden("only the doctor who placed the call admits participants")
            check_open(room, now, early_ok=False)
            present = {p.user_id: p for p in await store.participants(db, room.id)}
            if room.host_id not in present:
                raise Conflict("join the room first", code="NOT_JOINED")
            waiting = present.get(user_id)
            if waiting is None:
                raise Conflict("nobody by that id is waiting", code="NOT_WAITING")
            newly = await store.admit(db, room.id, user_id, now)
            present = {p.user_id: p for p in await store.participants(db, room.id)}
            started = await self._start_if_ready(db, room, list(present.values()), now)
        status = RoomStatus.IN_PROGRESS if started else RoomStatus(room.status)
        if newly:
            await self._emit(
                room.members,
                "participant_admitted",
                _participant_event(room.id, user_id, waiting.name, waiting.role),
            )
        if started:
            await self._announce_start(room, now)
        await self._audited(context, "room.admit", room.id, detail=str(user_id))
        return Admitted(room_id=room.id, user_id=user_id, status=status)

    async def _start_if_ready(
        self,
        db: AsyncConnection,
        room: RoomRow,
        present: list[store.ParticipantRow],
        now: datetime,
    ) -> bool:
        """Start a waiting room's call once its host and its admitted guest are both in."""
        admitted = {p.user_id for p in present if p.admitted}
        return (
            room.status == RoomStatus.WAITING
            and room.members <= admitted
            and await store.start_room(db, room.id, now)
        )

    async def _announce_start(self, room: RoomRow, now: datetime) -> None:
        await self.call_started.publish(room.id)
        metrics.call_started(self._provider.name)
        await self._emit(
            room.members, "call_started", {"roomId": str(room.id), "startedAt": iso_z(now)}
        )

    # --- connection drops and the rejoin grace period (issue 17) ------------------------------

    async def participant_disconnected(self, user_id: uuid.UUID) -> None:
        """The user's last socket on this node closed (reload, network loss or change). The
        others see `participant_reconnecting`; without a rejoin within the grace period the
        user has left (`participant_left`). The call itself goes on meanwhile."""
        grace = self._policy.rejoin_grace_seconds
        if grace <= 0:
            await self.participant_gone(user_id)
            return
        await self._announce_presence(user_id, "participant_reconnecting")
        self._came_back(user_id)
        self._away[user_id] = asyncio.create_task(self._leave_after(user_id, grace))

    async def participant_connected(self, user_id: uuid.UUID) -> None:
        """A socket of the user opened: if they were away, they are back in their calls."""
        if self._came_back(user_id):
            await self._announce_presence(user_id, "participant_reconnected")

    def _came_back(self, user_id: uuid.UUID) -> bool:
        task = self._away.pop(user_id, None)
        if task is None:
            return False
        task.cancel()
        return True

    async def _leave_after(self, user_id: uuid.UUID, grace: float) -> None:
        await asyncio.sleep(grace)
        if self._away.get(user_id) is asyncio.current_task():
            del self._away[user_id]
        try:
            await self.participant_gone(user_id)
        except Exception:
            logger.exception("could not record a participant leaving")

    async def _announce_presence(self, user_id: uuid.UUID, event: str) -> None:
        async with self._db.read() as db:
            rooms = await store.active_rooms_of(db, user_id)
            present = [(room, await store.get_participant(db, room.id, user_id)) for room in rooms]
        for room, participant in present:
            # Someone still in the waiting room is not in the call: nothing to reconnect.
            if participant is not None and participant.admitted:
                await self._emit(
                    room.members - {user_id},
                    event,
                    _participant_event(room.id, user_id, participant.name, participant.role),
                )

    async def participant_gone(self, user_id: uuid.UUID) -> None:
        """The user's last socket closed: they left every room they were in."""
        now = self._clock.now()
        left: list[tuple[RoomRow, str, str]] = []
        async with self._db.transaction() as db:
            for room in await store.active_rooms_of(db, user_id):
                participant = await store.get_participant(db, room.id, user_id)
                if participant and await store.mark_left(db, room.id, user_id, now):
                    left.append((room, participant.name, participant.role))
        for room, name, role in left:
            await self._emit(
                room.members - {user_id},
                "participant_left",
                _participant_event(room.id, user_id, name, role),
            )

    # --- ending ---------------------------------------------------------------------------

    async def end_call(self, context: RequestContext, room_id: uuid.UUID) -> CallEnded:
        """End (or, before it started, cancel) the call; ending again returns the same answer."""
        caller = context.actor
        async with self._db.read() as db:
            room = await visible_room(db, caller, room_id)
        if room.status in (RoomStatus.WAITING, RoomStatus.IN_PROGRESS):
            reason = (
                EndReason.ENDED_BY_GUEST
                if caller.user_id == room.guest_id
                else EndReason.ENDED_BY_HOST
            )
            await self.finish(room, reason, ended_by=caller.user_id)
            async with self._db.read() as db:
                room = await store.get_room(db, room_id) or room
        url = room.recording_url
        if room.has_recording:
            url = await self._recording_link(room)
        duration = room.duration or 0
        await self._audited(context, "room.end", room_id, detail=f"{duration}s")
        return CallEnded(
            duration=duration,
            recording=Recording(available=room.has_recording, url=url),
        )

    async def hang_up(self, context: RequestContext, room_id: uuid.UUID) -> CallEnded:
        """The socket twin of PUT end: ends the call and tells the other side `hangup`."""
        caller = context.actor
        ended = await self.end_call(context, room_id)
        async with self._db.read() as db:
            room = await visible_room(db, caller, room_id)
        await self._emit(
            room.members - {caller.user_id},
            "hangup",
            {"roomId": str(room.id), "fromUserId": str(caller.user_id)},
        )
        return ended

    async def finish(
        self, room: RoomRow, reason: EndReason, *, ended_by: uuid.UUID | None = None
    ) -> bool:
        """Move the room to its final state and announce `call_ended`, once (across nodes)."""
        now = self._clock.now()
        started = room.started_at if room.status == RoomStatus.IN_PROGRESS else None
        if started is None:
            reason = EndReason.CANCELLED
        duration = max(0, int((now - started).total_seconds())) if started else 0
        async with self._db.transaction() as db:
            won = await store.finish_room(
                db,
                room.id,
                status=(RoomStatus.ENDED if started else RoomStatus.CANCELLED).value,
                ended_at=now,
                duration=duration,
                reason=reason.value,
                ended_by=ended_by,
            )
            present = await store.participants(db, room.id) if won else []
            for participant in present:
                await store.mark_left(db, room.id, participant.user_id, now)
            if won:
                ended = {
                    "roomId": str(room.id),
                    "duration": duration,
                    "endedAt": iso_z(now),
                    "reason": reason.value,
                }
                audience = room.members | {p.user_id for p in present}
                unanswered = None if started else _unanswered_reason(room, ended_by)
                if room.conversation_id is not None:  # its call message, in this transaction
                    await self._outbox.add(
                        db, record_call.RECORD_CALL, record_call.payload(room.id)
                    )
                after_commit(db, lambda: self._finished(room.id, audience, ended, unanswered))
        return won

    async def _finished(
        self,
        room_id: uuid.UUID,
        audience: set[uuid.UUID],
        ended: dict[str, Any],
        unanswered: str | None,
    ) -> None:
        if unanswered is None:
            metrics.call_ended(self._provider.name, ended["duration"])
        else:  # never got both sides in: not answered, not a failure
            metrics.call_unanswered(self._provider.name, unanswered)
        self._outbox.kick()
        await self._emit(audience, "call_ended", ended)
        # A failed subscriber is logged: the recording job also stops recordings of ended
        # calls on its next pass.
        await self.call_finished.publish(room_id)

    async def end_overdue_calls(self) -> datetime | None:
        """End calls past their maximum duration and cancel expired waiting rooms.

        Returns when the next one falls due (None: nothing is scheduled).
        """
        now = self._clock.now()
        async with self._db.read() as db:
            running = await store.rooms_in_progress(db)
            expired = await store.expired_waiting_rooms(db, now)
            next_expiry = await store.next_waiting_expiry(db)
        upcoming: list[datetime] = []
        for room in running:
            deadline = (room.started_at or now) + self._max_duration(room)
            if deadline <= now:
                await self.finish(room, EndReason.MAX_DURATION)
            else:
                upcoming.append(deadline)
        for room in expired:
            await self.finish(room, EndReason.CANCELLED)
        if next_expiry is not None and next_expiry > now:
            upcoming.append(next_expiry)
        return min(upcoming, default=None)

    async def _emit(self, user_ids: set[uuid.UUID], event: str, data: dict[str, Any]) -> None:
        await announce_to_users(self._events, user_ids, event, data)


def _unanswered_reason(room: RoomRow, ended_by: uuid.UUID | None) -> str:
    """Why a call never started: the patient declined, the doctor gave up, or time ran out."""
    if ended_by == room.guest_id:
        return "declined"
    if ended_by is not None:
        return "cancelled"
    return "unanswered"


def _participant(row: store.ParticipantRow) -> Participant:
    return Participant(
        user_id=row.user_id,
        name=row.name,
        role=row.role,
        is_video_on=row.is_video_on,
        is_audio_on=row.is_audio_on,
        admitted=row.admitted,
    )


def _participant_event(
    room_id: uuid.UUID, user_id: uuid.UUID, name: str, role: str
) -> dict[str, Any]:
    return {"roomId": str(room_id), "userId": str(user_id), "userName": name, "role": role}
