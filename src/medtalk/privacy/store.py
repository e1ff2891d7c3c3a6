"""SQL for maintenance: checkpoints, where an interrupted key rotation resumes. The messages,
files and archives it walks belong to the stores that own them (chat, files)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from medtalk.db.tables import maintenance_checkpoints


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
