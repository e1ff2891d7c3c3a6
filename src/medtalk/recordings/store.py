"""SQL for call recordings and their chunks."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from medtalk.db.tables import call_recording_chunks, call_recordings

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


async def running_in_rooms(
    db: AsyncConnection, room_ids: sa.Select[tuple[uuid.UUID]]
) -> list[RecordingRow]:
    """REQUESTED/RECORDING recordings of the given rooms."""
    query = sa.select(*_COLUMNS).where(
        call_recordings.c.status.in_(ACTIVE), call_recordings.c.room_id.in_(room_ids)
    )
    return [_recording(row) for row in await db.execute(query)]


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


# --- retention (privacy/retention.py) ----------------------------------------------------


def in_rooms(room_ids: sa.Select[tuple[uuid.UUID]]) -> sa.ColumnElement[bool]:
    """True where some recording belongs to one of `room_ids` (for an EXISTS)."""
    return sa.exists().where(call_recordings.c.room_id.in_(room_ids))


async def recording_ids_in_rooms(
    db: AsyncConnection, room_ids: sa.Select[tuple[uuid.UUID]]
) -> list[uuid.UUID]:
    query = sa.select(call_recordings.c.id).where(call_recordings.c.room_id.in_(room_ids))
    return list(await db.scalars(query))


async def delete_recordings(db: AsyncConnection, recording_ids: list[uuid.UUID]) -> list[str]:
    """Delete recordings and their chunks; the object keys they held (chunks and files)."""
    if not recording_ids:
        return []
    chunk_keys = await db.scalars(
        sa.select(call_recording_chunks.c.storage_key).where(
            call_recording_chunks.c.recording_id.in_(recording_ids)
        )
    )
    file_keys = await db.scalars(
        sa.select(call_recordings.c.storage_key).where(
            call_recordings.c.id.in_(recording_ids), call_recordings.c.storage_key.is_not(None)
        )
    )
    keys = [*chunk_keys, *file_keys]
    await db.execute(
        call_recording_chunks.delete().where(
            call_recording_chunks.c.recording_id.in_(recording_ids)
        )
    )
    await db.execute(call_recordings.delete().where(call_recordings.c.id.in_(recording_ids)))
    return keys
