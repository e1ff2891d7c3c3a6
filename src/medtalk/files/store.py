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


# --- retention (privacy/retention.py) ----------------------------------------------------


def of_conversation(conversation_id: object) -> sa.ColumnElement[bool]:
    """True where some file belongs to the conversation (for an EXISTS on an outer row)."""
    return sa.exists().where(chat_files.c.conversation_id == conversation_id)


async def count_of_conversation(db: AsyncConnection, conversation_id: uuid.UUID) -> int:
    query = sa.select(sa.func.count()).where(chat_files.c.conversation_id == conversation_id)
    return int(await db.scalar(query) or 0)


async def delete_of_conversation(
    db: AsyncConnection, conversation_id: uuid.UUID
) -> tuple[int, list[str]]:
    """Delete the conversation's file rows: how many, and the object keys (with thumbnails)."""
    rows = list(
        await db.execute(
            sa.select(chat_files.c.storage_key, chat_files.c.thumbnail_key).where(
                chat_files.c.conversation_id == conversation_id
            )
        )
    )
    keys = [row.storage_key for row in rows] + [
        row.thumbnail_key for row in rows if row.thumbnail_key
    ]
    await db.execute(chat_files.delete().where(chat_files.c.conversation_id == conversation_id))
    return len(rows), keys


# --- key rotation (privacy/rotation.py) --------------------------------------------------


@dataclass(frozen=True)
class SealedObject:
    id: uuid.UUID
    key_id: str
    storage_key: str


def _not_under(key_id: str) -> sa.ColumnElement[bool]:
    return sa.and_(chat_files.c.key_id.is_not(None), chat_files.c.key_id != key_id)


async def count_not_under(db: AsyncConnection, key_id: str) -> int:
    return int(await db.scalar(sa.select(sa.func.count()).where(_not_under(key_id))) or 0)


async def files_not_under(
    db: AsyncConnection, key_id: str, after: uuid.UUID | None, limit: int
) -> list[SealedObject]:
    """Up to `limit` files sealed under another key, by id, after `after`."""
    query = (
        sa.select(chat_files.c.id, chat_files.c.key_id, chat_files.c.storage_key)
        .where(_not_under(key_id))
        .order_by(chat_files.c.id)
        .limit(limit)
    )
    if after is not None:
        query = query.where(chat_files.c.id > after)
    return [SealedObject(row.id, row.key_id, row.storage_key) for row in await db.execute(query)]


async def switch_object(
    db: AsyncConnection, old: SealedObject, storage_key: str, key_id: str | None
) -> bool:
    """Point the row at its re-sealed copy, only if it still points at the old object."""
    result = await db.execute(
        chat_files.update()
        .where(chat_files.c.id == old.id, chat_files.c.storage_key == old.storage_key)
        .values(storage_key=storage_key, key_id=key_id)
    )
    return bool(result.rowcount)


async def keys_outside(db: AsyncConnection, key_ids: list[str]) -> dict[str, int]:
    """Files per key id, for key ids not in `key_ids`."""
    query = (
        sa.select(chat_files.c.key_id, sa.func.count())
        .where(chat_files.c.key_id.is_not(None), chat_files.c.key_id.not_in(key_ids))
        .group_by(chat_files.c.key_id)
    )
    return {key_id: int(count) for key_id, count in await db.execute(query)}
