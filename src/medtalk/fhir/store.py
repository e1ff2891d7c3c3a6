"""SQL for the FHIR export: the conversation's people, files and calls (read only)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from medtalk.db.tables import chat_files, users, video_call_rooms


@dataclass(frozen=True)
class Person:
    id: uuid.UUID
    name: str
    role: str


@dataclass(frozen=True)
class FileRow:
    id: uuid.UUID
    mime_type: str
    size: int
    status: str
    created_at: datetime


@dataclass(frozen=True)
class CallRow:
    id: uuid.UUID
    status: str
    host_id: uuid.UUID
    guest_id: uuid.UUID
    started_at: datetime | None
    ended_at: datetime | None
    duration: int | None  # seconds
    created_at: datetime


async def people(db: AsyncConnection, user_ids: set[uuid.UUID]) -> dict[uuid.UUID, Person]:
    rows = await db.execute(
        sa.select(users.c.id, users.c.name, users.c.role).where(users.c.id.in_(user_ids))
    )
    return {row.id: Person(row.id, row.name, row.role) for row in rows}


async def files_of(db: AsyncConnection, conversation_id: uuid.UUID) -> dict[uuid.UUID, FileRow]:
    columns = [chat_files.c[name] for name in FileRow.__dataclass_fields__]
    rows = await db.execute(
        sa.select(*columns).where(chat_files.c.conversation_id == conversation_id)
    )
    return {row.id: FileRow(**row._mapping) for row in rows}


async def calls_of(db: AsyncConnection, conversation_id: uuid.UUID) -> list[CallRow]:
    columns = [video_call_rooms.c[name] for name in CallRow.__dataclass_fields__]
    rows = await db.execute(
        sa.select(*columns)
        .where(video_call_rooms.c.conversation_id == conversation_id)
        .order_by(video_call_rooms.c.created_at)
    )
    return [CallRow(**row._mapping) for row in rows]
