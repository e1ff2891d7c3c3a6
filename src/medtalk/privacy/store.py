"""SQL for maintenance: checkpoints (where an interrupted key rotation resumes) and what
rotation and retention do to conversation archives. The messages and files it walks belong to
the other stores (chat, files)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from medtalk.db.tables import conversation_archives, maintenance_checkpoints


async def checkpoint(db: AsyncConnection, name: str) -> str | None:
    query = sa.select(maintenance_checkpoints.c.position).where(
        maintenance_checkpoints.c.name == name
    )
    position: str | None = (await db.execute(query)).scalar_one_or_none()
    return position


async def save_checkpoint(db: AsyncConnection, name: str, position: str, now: datetime) -> None:
    values = {"position": position, "updated_at": now}
    updated = await db.execute(
        maintenance_checkpoints.update()
        .where(maintenance_checkpoints.c.name == name)
        .values(**values)
    )
    if updated.rowcount == 0:
        await db.execute(maintenance_checkpoints.insert().values(name=name, **values))


async def clear_checkpoint(db: AsyncConnection, name: str) -> None:
    await db.execute(maintenance_checkpoints.delete().where(maintenance_checkpoints.c.name == name))


# --- conversation archives: rotation and retention ----------------------------------------
# The archive rows are written by the archive job through chat/store.py; what maintenance does
# to them (re-seal under a new key, delete with the conversation) is here, next to its
# checkpoints. TODO(issue 14): move into chat/store.py once the send-path rework there lands.


@dataclass(frozen=True)
class ArchiveObject:
    conversation_id: uuid.UUID
    storage_key: str
    key_id: str | None


def has_archive(conversation_id: object) -> sa.ColumnElement[bool]:
    """True where the conversation has an archive object (for an EXISTS on an outer row)."""
    return sa.exists().where(conversation_archives.c.conversation_id == conversation_id)


async def count_archives(db: AsyncConnection) -> int:
    return int(await db.scalar(sa.select(sa.func.count()).select_from(conversation_archives)) or 0)


async def archives_after(
    db: AsyncConnection, after: uuid.UUID | None, limit: int
) -> list[ArchiveObject]:
    """Up to `limit` archives by conversation id, after `after` (every one: the rows inside
    may be under an older key whatever seals the object)."""
    query = (
        sa.select(
            conversation_archives.c.conversation_id,
            conversation_archives.c.storage_key,
            conversation_archives.c.key_id,
        )
        .order_by(conversation_archives.c.conversation_id)
        .limit(limit)
    )
    if after is not None:
        query = query.where(conversation_archives.c.conversation_id > after)
    return [ArchiveObject(*row) for row in await db.execute(query)]


async def switch_archive(
    db: AsyncConnection, old: ArchiveObject, storage_key: str, key_id: str | None
) -> bool:
    """Point the archive at its re-sealed object, only if nobody changed the row meanwhile."""
    result = await db.execute(
        conversation_archives.update()
        .where(
            conversation_archives.c.conversation_id == old.conversation_id,
            conversation_archives.c.storage_key == old.storage_key,
        )
        .values(storage_key=storage_key, key_id=key_id)
    )
    return bool(result.rowcount)


async def archive_keys_outside(db: AsyncConnection, key_ids: list[str]) -> dict[str, int]:
    """Archives per key id, for key ids not in `key_ids`."""
    query = (
        sa.select(conversation_archives.c.key_id, sa.func.count())
        .where(
            conversation_archives.c.key_id.is_not(None),
            conversation_archives.c.key_id.not_in(key_ids),
        )
        .group_by(conversation_archives.c.key_id)
    )
    return {key_id: int(count) for key_id, count in await db.execute(query)}


async def delete_archive(db: AsyncConnection, conversation_id: uuid.UUID) -> str | None:
    """Delete the conversation's archive row; the storage key of its object, if it had one."""
    storage_key: str | None = await db.scalar(
        conversation_archives.delete()
        .where(conversation_archives.c.conversation_id == conversation_id)
        .returning(conversation_archives.c.storage_key)
    )
    return storage_key
