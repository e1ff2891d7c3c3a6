"""SQL for chat files (`chat_files`). No authorization here: the service decides who may ask."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from medtalk.core.errors import NotFound
from medtalk.db.tables import chat_files

PENDING, CLEAN, INFECTED = "PENDING", "CLEAN", "INFECTED"


@dataclass(frozen=True)
class StoredFile:
    id: uuid.UUID
    conversation_id: uuid.UUID
    storage_key: str
    key_id: str | None
    mime_type: str
    size: int
    status: str
    thumbnail_key: str | None = None
    thumbnail_key_id: str | None = None
    thumbnail_size: int | None = None

    def thumbnail(self) -> StoredFile:
        """The thumbnail as a file of its own (same id, conversation and status)."""
        if self.thumbnail_key is None:
            raise NotFound("this file has no thumbnail")
        return StoredFile(
            id=self.id,
            conversation_id=self.conversation_id,
            storage_key=self.thumbnail_key,
            key_id=self.thumbnail_key_id,
            mime_type="image/jpeg",
            size=self.thumbnail_size or 0,
            status=self.status,
        )


@dataclass(frozen=True)
class NewFile:
    """A stored object's row, written with its message."""

    id: uuid.UUID
    conversation_id: uuid.UUID
    uploader_id: uuid.UUID
    storage_key: str
    key_id: str | None
    mime_type: str
    size: int
    sha256: str
    status: str
    created_at: datetime
    thumbnail_key: str | None
    thumbnail_key_id: str | None
    thumbnail_size: int | None
    duration_seconds: float | None


async def insert_file(db: AsyncConnection, new: NewFile) -> None:
    await db.execute(
        chat_files.insert().values(
            {name: getattr(new, name) for name in NewFile.__dataclass_fields__}
        )
    )


async def get_file(db: AsyncConnection, file_id: uuid.UUID) -> StoredFile | None:
    columns = [chat_files.c[name] for name in StoredFile.__dataclass_fields__]
    row = (await db.execute(sa.select(*columns).where(chat_files.c.id == file_id))).first()
    return StoredFile(**row._asdict()) if row else None


async def record_verdict(
    db: AsyncConnection, file_id: uuid.UUID, status: str, result: str, now: datetime
) -> bool:
    """Set a PENDING file's scan verdict; False if it was not PENDING (another node was first)."""
    changed = await db.execute(
        chat_files.update()
        .where(chat_files.c.id == file_id, chat_files.c.status == PENDING)
        .values(status=status, scanned_at=now, scan_result=result)
    )
    return bool(changed.rowcount)
