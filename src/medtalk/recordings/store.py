"""SQL for call recordings and their chunks."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from medtalk.db.tables import call_recording_chunks, call_recordings, video_call_rooms

ACTIVE = ("REQUESTED", "RECORDING")


@dataclass(frozen=True)
class RecordingRow:
    id: uuid.UUID
    room_id: uuid.UUID
    status: str
    source: str
    requested_by: uuid.UUID
    requested_at: datetime
    consented_by: uuid.UUID | None
    consent_at: datetime | None
    declined_at: datetime | None
    started_at: datetime | None
    stopped_at: datetime | None
    stopped_by: uuid.UUID | None
    next_attempt_at: datetime | None
    attempts: int
    storage_key: str | None
    key_id: str | None
    mime_type: str | None
    size: int | None
    sha256: str | None
    duration_seconds: float | None
    ready_at: datetime | None
    failure: str | None


@dataclass(frozen=True)
class ChunkRow:
    chunk_index: int
    storage_key: str
    key_id: str | None
    size: int
    sha256: str


_COLUMNS = [call_recordings.c[name] for name in RecordingRow.__dataclass_fields__]


def _recording(row: sa.Row[tuple[object, ...]]) -> RecordingRow:
    return RecordingRow(**row._asdict())


async def insert_recording(db: AsyncConnection, **values: object) -> None:
    await db.execute(call_recordings.insert().values(**values))


async def get_recording(
    db: AsyncConnection, recording_id: uuid.UUID, *, lock: bool = False
) -> RecordingRow | None:
    query = sa.select(*_COLUMNS).where(call_recordings.c.id == recording_id)
    if lock and db.dialect.name != "sqlite":
        query = query.with_for_update()
    row = (await db.execute(query)).first()
    return _recording(row) if row else None


async def recordings_of_room(db: AsyncConnection, room_id: uuid.UUID) -> list[RecordingRow]:
    query = (
        sa.select(*_COLUMNS)
        .where(call_recordings.c.room_id == room_id)
        .order_by(call_recordings.c.requested_at.desc())
    )
    return [_recording(row) for row in await db.execute(query)]


async def active_recording(db: AsyncConnection, room_id: uuid.UUID) -> RecordingRow | None:
    """The room's REQUESTED or RECORDING recording (at most one)."""
    query = sa.select(*_COLUMNS).where(
        call_recordings.c.room_id == room_id, call_recordings.c.status.in_(ACTIVE)
    )
    row = (await db.execute(query)).first()
    return _recording(row) if row else None


async def latest_ready(db: AsyncConnection, room_id: uuid.UUID) -> RecordingRow | None:
    query = (
        sa.select(*_COLUMNS)
        .where(call_recordings.c.room_id == room_id, call_recordings.c.status == "READY")
        .order_by(call_recordings.c.ready_at.desc())
        .limit(1)
    )
    row = (await db.execute(query)).first()
    return _recording(row) if row else None


async def latest_consented(db: AsyncConnection, room_id: uuid.UUID) -> RecordingRow | None:
    """The room's newest recording the patient agreed to that has no media yet (Jibri)."""
    query = (
        sa.select(*_COLUMNS)
        .where(
            call_recordings.c.room_id == room_id,
            call_recordings.c.status.in_(("RECORDING", "STOPPED")),
            call_recordings.c.consent_at.is_not(None),
        )
        .order_by(call_recordings.c.requested_at.desc())
        .limit(1)
    )
    row = (await db.execute(query)).first()
    return _recording(row) if row else None


async def update_recording(
    db: AsyncConnection,
    recording_id: uuid.UUID,
    *,
    expected: tuple[str, ...],
    **values: object,
) -> bool:
    """Change a recording that is still in one of the `expected` states; False otherwise."""
    result = await db.execute(
        call_recordings.update()
        .where(call_recordings.c.id == recording_id, call_recordings.c.status.in_(expected))
        .values(**values)
    )
    return bool(result.rowcount)


async def claim(
    db: AsyncConnection, recording_id: uuid.UUID, now: datetime, lease_until: datetime
) -> bool:
    """Take a due recording for assembly (one node wins)."""
    result = await db.execute(
        call_recordings.update()
        .where(
            call_recordings.c.id == recording_id,
            call_recordings.c.status.in_(("STOPPED", "ASSEMBLING")),
            call_recordings.c.next_attempt_at <= now,
        )
        .values(
            status="ASSEMBLING",
            next_attempt_at=lease_until,
            attempts=call_recordings.c.attempts + 1,
        )
    )
    return bool(result.rowcount)


async def due_for_assembly(db: AsyncConnection, now: datetime) -> list[uuid.UUID]:
    query = (
        sa.select(call_recordings.c.id)
        .where(
            call_recordings.c.status.in_(("STOPPED", "ASSEMBLING")),
            call_recordings.c.next_attempt_at <= now,
        )
        .order_by(call_recordings.c.next_attempt_at)
    )
    return list((await db.execute(query)).scalars())


async def running_in_finished_rooms(db: AsyncConnection) -> list[tuple[RecordingRow, datetime]]:
    """REQUESTED/RECORDING recordings whose call is over (a crash between ending the call and
    stopping its recording), with the moment the call ended."""
    query = (
        sa.select(*_COLUMNS, video_call_rooms.c.ended_at)
        .join(video_call_rooms, video_call_rooms.c.id == call_recordings.c.room_id)
        .where(
            call_recordings.c.status.in_(ACTIVE),
            video_call_rooms.c.status.in_(("ENDED", "CANCELLED")),
        )
    )
    rows = []
    for row in await db.execute(query):
        values = row._asdict()
        ended_at = values.pop("ended_at")
        rows.append((RecordingRow(**values), ended_at))
    return rows


async def set_room_recording(db: AsyncConnection, room_id: uuid.UUID, url: str) -> None:
    await db.execute(
        video_call_rooms.update()
        .where(video_call_rooms.c.id == room_id)
        .values(has_recording=True, recording_url=url)
    )


# --- chunks -------------------------------------------------------------------------------


async def chunk_exists(db: AsyncConnection, recording_id: uuid.UUID, index: int) -> ChunkRow | None:
    rows = await chunks(db, recording_id, index=index)
    return rows[0] if rows else None


async def chunks(
    db: AsyncConnection, recording_id: uuid.UUID, *, index: int | None = None
) -> list[ChunkRow]:
    query = (
        sa.select(
            call_recording_chunks.c.chunk_index,
            call_recording_chunks.c.storage_key,
            call_recording_chunks.c.key_id,
            call_recording_chunks.c.size,
            call_recording_chunks.c.sha256,
        )
        .where(call_recording_chunks.c.recording_id == recording_id)
        .order_by(call_recording_chunks.c.chunk_index)
    )
    if index is not None:
        query = query.where(call_recording_chunks.c.chunk_index == index)
    return [ChunkRow(**row._asdict()) for row in await db.execute(query)]


async def received_bytes(db: AsyncConnection, recording_id: uuid.UUID) -> int:
    query = sa.select(sa.func.coalesce(sa.func.sum(call_recording_chunks.c.size), 0)).where(
        call_recording_chunks.c.recording_id == recording_id
    )
    return int((await db.execute(query)).scalar_one())


async def insert_chunk(db: AsyncConnection, **values: object) -> None:
    await db.execute(call_recording_chunks.insert().values(**values))


async def delete_chunks(db: AsyncConnection, recording_id: uuid.UUID) -> None:
    await db.execute(
        call_recording_chunks.delete().where(call_recording_chunks.c.recording_id == recording_id)
    )


async def room_id_by_name(db: AsyncConnection, room_name: str) -> uuid.UUID | None:
    """Jibri knows the conference by its name (`consultation-...`), not by our id."""
    query = sa.select(video_call_rooms.c.id).where(video_call_rooms.c.room_name == room_name)
    room_id: uuid.UUID | None = (await db.execute(query)).scalar_one_or_none()
    return room_id
