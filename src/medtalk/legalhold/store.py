"""SQL for legal holds; `active_hold_exists` is also what retention filters on."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from medtalk.db.tables import conversations, legal_holds


@dataclass(frozen=True)
class HoldRow:
    id: uuid.UUID
    conversation_id: uuid.UUID
    reason: str
    placed_by: uuid.UUID
    placed_at: datetime
    lifted_by: uuid.UUID | None
    lifted_at: datetime | None


_COLUMNS = [legal_holds.c[name] for name in HoldRow.__dataclass_fields__]


def active_hold_exists(conversation_id: Any) -> sa.Exists:
    """EXISTS an active hold on `conversation_id` (a value or a correlated column)."""
    return (
        sa.exists()
        .where(legal_holds.c.conversation_id == conversation_id, legal_holds.c.lifted_at.is_(None))
        .correlate_except(legal_holds)
    )


async def lock_conversation(db: AsyncConnection, conversation_id: uuid.UUID) -> bool:
    """Row-lock the conversation until commit (PostgreSQL; SQLite serializes writers anyway),
    so placing a hold and purging the conversation never interleave. False if it is missing."""
    found = await db.execute(
        sa.select(conversations.c.id)
        .where(conversations.c.id == conversation_id)
        .with_for_update(key_share=True)
    )
    return found.first() is not None


async def conversation_exists(db: AsyncConnection, conversation_id: uuid.UUID) -> bool:
    found = await db.execute(
        sa.select(conversations.c.id).where(conversations.c.id == conversation_id)
    )
    return found.first() is not None


async def is_held(db: AsyncConnection, conversation_id: uuid.UUID) -> bool:
    return bool(await db.scalar(sa.select(active_hold_exists(conversation_id))))


async def active_hold(db: AsyncConnection, conversation_id: uuid.UUID) -> HoldRow | None:
    row = (
        await db.execute(
            sa.select(*_COLUMNS).where(
                legal_holds.c.conversation_id == conversation_id, legal_holds.c.lifted_at.is_(None)
            )
        )
    ).first()
    return HoldRow(**row._mapping) if row else None


async def holds_of(db: AsyncConnection, conversation_id: uuid.UUID) -> list[HoldRow]:
    """Every hold of the conversation, newest first (active and lifted)."""
    rows = await db.execute(
        sa.select(*_COLUMNS)
        .where(legal_holds.c.conversation_id == conversation_id)
        .order_by(legal_holds.c.placed_at.desc())
    )
    return [HoldRow(**row._mapping) for row in rows]


async def active_holds(db: AsyncConnection, offset: int, limit: int) -> list[HoldRow]:
    rows = await db.execute(
        sa.select(*_COLUMNS)
        .where(legal_holds.c.lifted_at.is_(None))
        .order_by(legal_holds.c.placed_at.desc(), legal_holds.c.id)
        .offset(offset)
        .limit(limit)
    )
    return [HoldRow(**row._mapping) for row in rows]


async def insert_hold(db: AsyncConnection, hold: HoldRow) -> None:
    await db.execute(legal_holds.insert().values(**hold.__dict__))


async def lift_hold(
    db: AsyncConnection, hold_id: uuid.UUID, lifted_by: uuid.UUID, lifted_at: datetime
) -> None:
    await db.execute(
        legal_holds.update()
        .where(legal_holds.c.id == hold_id)
        .values(lifted_by=lifted_by, lifted_at=lifted_at)
    )
