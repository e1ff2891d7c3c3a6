"""SQL for video-call rooms, their participants and their quality reports."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from medtalk.db.tables import (
    appointments,
    call_participants,
    call_stats,
    conversations,
    users,
    video_call_rooms,
)

ACTIVE = ("WAITING", "IN_PROGRESS")


@dataclass(frozen=True)
class RoomRow:
    id: uuid.UUID
    room_name: str
    appointment_id: uuid.UUID | None
    conversation_id: uuid.UUID | None
    host_id: uuid.UUID
    guest_id: uuid.UUID
    status: str
    scheduled_time: datetime | None
    started_at: datetime | None
    ended_at: datetime | None
    duration: int | None
    recording_url: str | None
    has_recording: bool
    created_at: datetime
    provider: str
    planned_duration: int | None
    max_duration_seconds: int | None
    opens_at: datetime | None
    expires_at: datetime | None
    end_reason: str | None
    ended_by: uuid.UUID | None

    def is_member(self, user_id: uuid.UUID) -> bool:
        return user_id in (self.host_id, self.guest_id)

    @property
    def members(self) -> set[uuid.UUID]:
        """The room's host (the doctor) and guest (the patient)."""
        return {self.host_id, self.guest_id}


@dataclass(frozen=True)
class ParticipantRow:
    user_id: uuid.UUID
    name: str
    role: str
    joined_at: datetime
    left_at: datetime | None
    admitted_at: datetime | None
    is_video_on: bool
    is_audio_on: bool

    @property
    def admitted(self) -> bool:
        """Let in by the host (the host is let in by joining): may signal and be signalled."""
        return self.admitted_at is not None

    @property
    def present(self) -> bool:
        return self.left_at is None


_ROOM_COLUMNS = [video_call_rooms.c[name] for name in RoomRow.__dataclass_fields__]


def _room(row: sa.Row[tuple[object, ...]]) -> RoomRow:
    return RoomRow(**row._asdict())


# --- who the call is between --------------------------------------------------------------


async def conversation_parties(
    db: AsyncConnection, conversation_id: uuid.UUID
) -> tuple[uuid.UUID, uuid.UUID, uuid.UUID | None, str] | None:
    """(patient, doctor, appointment, status) of a conversation."""
    query = sa.select(
        conversations.c.user_id,
        conversations.c.doctor_id,
        conversations.c.appointment_id,
        conversations.c.status,
    ).where(conversations.c.id == conversation_id)
    row = (await db.execute(query)).first()
    return (row[0], row[1], row[2], row[3]) if row else None


async def appointment_parties(
    db: AsyncConnection, appointment_id: uuid.UUID
) -> tuple[uuid.UUID, uuid.UUID, datetime | None] | None:
    """(patient, doctor, scheduled time) of an appointment."""
    query = sa.select(
        appointments.c.patient_id, appointments.c.doctor_id, appointments.c.scheduled_time
    ).where(appointments.c.id == appointment_id)
    row = (await db.execute(query)).first()
    return (row[0], row[1], row[2]) if row else None


async def conversation_of_appointment(
    db: AsyncConnection, appointment_id: uuid.UUID
) -> uuid.UUID | None:
    query = (
        sa.select(conversations.c.id)
        .where(conversations.c.appointment_id == appointment_id)
        .order_by(conversations.c.created_at.desc())
        .limit(1)
    )
    return (await db.execute(query)).scalar_one_or_none()


async def user_names(db: AsyncConnection, user_ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    query = sa.select(users.c.id, users.c.name).where(users.c.id.in_(user_ids))
    return {row.id: row.name for row in await db.execute(query)}


# --- rate limit ---------------------------------------------------------------------------


async def lock_user(db: AsyncConnection, user_id: uuid.UUID) -> None:
    """Serialize one user's room creations across nodes (PostgreSQL row lock; SQLite has one
    writer anyway)."""
    query = sa.select(users.c.id).where(users.c.id == user_id)
    if db.dialect.name != "sqlite":
        query = query.with_for_update()
    await db.execute(query)


async def rooms_created_since(
    db: AsyncConnection, host_id: uuid.UUID, since: datetime
) -> tuple[int, datetime | None]:
    """How many rooms `host_id` created after `since`, and the oldest of them."""
    query = sa.select(sa.func.count(), sa.func.min(video_call_rooms.c.created_at)).where(
        video_call_rooms.c.host_id == host_id, video_call_rooms.c.created_at > since
    )
    count, oldest = (await db.execute(query)).one()
    return int(count), oldest


# --- rooms --------------------------------------------------------------------------------


async def insert_room(db: AsyncConnection, **values: object) -> None:
    await db.execute(video_call_rooms.insert().values(**values))


async def get_room(
    db: AsyncConnection, room_id: uuid.UUID, *, lock: bool = False
) -> RoomRow | None:
    query = sa.select(*_ROOM_COLUMNS).where(video_call_rooms.c.id == room_id)
    if lock and db.dialect.name != "sqlite":
        query = query.with_for_update()
    row = (await db.execute(query)).first()
    return _room(row) if row else None


async def start_room(db: AsyncConnection, room_id: uuid.UUID, now: datetime) -> bool:
    result = await db.execute(
        video_call_rooms.update()
        .where(video_call_rooms.c.id == room_id, video_call_rooms.c.status == "WAITING")
        .values(status="IN_PROGRESS", started_at=now)
    )
    return bool(result.rowcount)


async def finish_room(
    db: AsyncConnection,
    room_id: uuid.UUID,
    *,
    status: str,
    ended_at: datetime,
    duration: int,
    reason: str,
    ended_by: uuid.UUID | None,
) -> bool:
    """Move an active room to ENDED/CANCELLED; False when someone else already did."""
    result = await db.execute(
        video_call_rooms.update()
        .where(video_call_rooms.c.id == room_id, video_call_rooms.c.status.in_(ACTIVE))
        .values(
            status=status,
            ended_at=ended_at,
            duration=duration,
            end_reason=reason,
            ended_by=ended_by,
        )
    )
    return bool(result.rowcount)


async def rooms_in_progress(db: AsyncConnection) -> list[RoomRow]:
    query = sa.select(*_ROOM_COLUMNS).where(video_call_rooms.c.status == "IN_PROGRESS")
    return [_room(row) for row in await db.execute(query)]


async def expired_waiting_rooms(db: AsyncConnection, now: datetime) -> list[RoomRow]:
    query = sa.select(*_ROOM_COLUMNS).where(
        video_call_rooms.c.status == "WAITING", video_call_rooms.c.expires_at <= now
    )
    return [_room(row) for row in await db.execute(query)]


async def next_waiting_expiry(db: AsyncConnection) -> datetime | None:
    query = sa.select(sa.func.min(video_call_rooms.c.expires_at)).where(
        video_call_rooms.c.status == "WAITING"
    )
    value: datetime | None = (await db.execute(query)).scalar_one_or_none()
    return value


async def active_rooms_of(db: AsyncConnection, user_id: uuid.UUID) -> list[RoomRow]:
    query = (
        sa.select(*_ROOM_COLUMNS)
        .join(call_participants, call_participants.c.room_id == video_call_rooms.c.id)
        .where(
            call_participants.c.user_id == user_id,
            call_participants.c.left_at.is_(None),
            video_call_rooms.c.status.in_(ACTIVE),
        )
    )
    return [_room(row) for row in await db.execute(query)]


async def open_rooms_of(db: AsyncConnection, user_id: uuid.UUID, now: datetime) -> list[RoomRow]:
    """Rooms the user is host or guest of that can still be joined, newest first."""
    query = (
        sa.select(*_ROOM_COLUMNS)
        .where(
            sa.or_(video_call_rooms.c.host_id == user_id, video_call_rooms.c.guest_id == user_id),
            video_call_rooms.c.status.in_(ACTIVE),
            sa.or_(video_call_rooms.c.expires_at.is_(None), video_call_rooms.c.expires_at > now),
        )
        .order_by(video_call_rooms.c.created_at.desc())
        .limit(20)
    )
    return [_room(row) for row in await db.execute(query)]


# --- participants -------------------------------------------------------------------------


async def get_participant(
    db: AsyncConnection, room_id: uuid.UUID, user_id: uuid.UUID
) -> ParticipantRow | None:
    rows = await participants(db, room_id, user_id=user_id, present_only=False)
    return rows[0] if rows else None


async def participants(
    db: AsyncConnection,
    room_id: uuid.UUID,
    *,
    user_id: uuid.UUID | None = None,
    present_only: bool = True,
) -> list[ParticipantRow]:
    query = (
        sa.select(
            call_participants.c.user_id,
            users.c.name,
            call_participants.c.role,
            call_participants.c.joined_at,
            call_participants.c.left_at,
            call_participants.c.admitted_at,
            call_participants.c.is_video_on,
            call_participants.c.is_audio_on,
        )
        .join(users, users.c.id == call_participants.c.user_id)
        .where(call_participants.c.room_id == room_id)
        .order_by(call_participants.c.joined_at)
    )
    if user_id is not None:
        query = query.where(call_participants.c.user_id == user_id)
    if present_only:
        query = query.where(call_participants.c.left_at.is_(None))
    return [ParticipantRow(**row._asdict()) for row in await db.execute(query)]


async def waiting_participants(
    db: AsyncConnection, room_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[tuple[uuid.UUID, str]]]:
    """(user, name) of those in each room's waiting room: joined, present, not admitted."""
    query = (
        sa.select(call_participants.c.room_id, call_participants.c.user_id, users.c.name)
        .join(users, users.c.id == call_participants.c.user_id)
        .where(
            call_participants.c.room_id.in_(room_ids),
            call_participants.c.left_at.is_(None),
            call_participants.c.admitted_at.is_(None),
        )
        .order_by(call_participants.c.joined_at)
    )
    waiting: dict[uuid.UUID, list[tuple[uuid.UUID, str]]] = {}
    for row in await db.execute(query):
        waiting.setdefault(row.room_id, []).append((row.user_id, row.name))
    return waiting


async def upsert_participant(
    db: AsyncConnection,
    room_id: uuid.UUID,
    user_id: uuid.UUID,
    role: str,
    now: datetime,
    *,
    video: bool,
    audio: bool,
    browser: str | None,
    admitted: bool,
) -> bool:
    """Record a join (admitted now when `admitted`; once admitted, always); True when the user
    was not already present (a new or repeated entry)."""
    existing = await get_participant(db, room_id, user_id)
    values: dict[str, object] = {"is_video_on": video, "is_audio_on": audio, "browser": browser}
    if admitted and (existing is None or existing.admitted_at is None):
        values["admitted_at"] = now
    if existing is None:
        await db.execute(
            call_participants.insert().values(
                room_id=room_id, user_id=user_id, role=role, joined_at=now, **values
            )
        )
        return True
    await db.execute(
        call_participants.update()
        .where(call_participants.c.room_id == room_id, call_participants.c.user_id == user_id)
        .values(left_at=None, **values)
    )
    return existing.left_at is not None


async def admit(db: AsyncConnection, room_id: uuid.UUID, user_id: uuid.UUID, now: datetime) -> bool:
    """Let a waiting participant in; False when they were already in (or never joined)."""
    result = await db.execute(
        call_participants.update()
        .where(
            call_participants.c.room_id == room_id,
            call_participants.c.user_id == user_id,
            call_participants.c.admitted_at.is_(None),
        )
        .values(admitted_at=now)
    )
    return bool(result.rowcount)


async def mark_left(
    db: AsyncConnection, room_id: uuid.UUID, user_id: uuid.UUID, now: datetime
) -> bool:
    result = await db.execute(
        call_participants.update()
        .where(
            call_participants.c.room_id == room_id,
            call_participants.c.user_id == user_id,
            call_participants.c.left_at.is_(None),
        )
        .values(left_at=now)
    )
    return bool(result.rowcount)


# --- quality reports ----------------------------------------------------------------------


async def insert_stats(db: AsyncConnection, **values: object) -> None:
    await db.execute(call_stats.insert().values(**values))


# --- retention (privacy/retention.py): the rooms of a conversation ------------------------


def room_ids_of_conversation(conversation_id: object) -> sa.Select[tuple[uuid.UUID]]:
    """A subquery of the conversation's room ids. `conversation_id` may be an outer query's
    column: correlate_except keeps `conversations` the outer row, not a table of this one."""
    return (
        sa.select(video_call_rooms.c.id)
        .where(video_call_rooms.c.conversation_id == conversation_id)
        .correlate_except(video_call_rooms)
    )


async def clear_recording_links(db: AsyncConnection, conversation_id: uuid.UUID) -> None:
    """The conversation's rooms keep their times but lose their recording link."""
    await db.execute(
        video_call_rooms.update()
        .where(video_call_rooms.c.conversation_id == conversation_id)
        .values(has_recording=False, recording_url=None)
    )


# --- for recordings (through calls/rooms.py) ----------------------------------------------


def finished_room_ids() -> sa.Select[tuple[uuid.UUID]]:
    """A subquery of the rooms whose call is over (ended or cancelled)."""
    return sa.select(video_call_rooms.c.id).where(
        video_call_rooms.c.status.in_(("ENDED", "CANCELLED"))
    )


async def set_recording_url(db: AsyncConnection, room_id: uuid.UUID, url: str) -> None:
    await db.execute(
        video_call_rooms.update()
        .where(video_call_rooms.c.id == room_id)
        .values(has_recording=True, recording_url=url)
    )


async def room_id_by_name(db: AsyncConnection, room_name: str) -> uuid.UUID | None:
    query = sa.select(video_call_rooms.c.id).where(video_call_rooms.c.room_name == room_name)
    room_id: uuid.UUID | None = (await db.execute(query)).scalar_one_or_none()
    return room_id
