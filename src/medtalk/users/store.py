"""SQL for the users table."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from medtalk.core.auth import Role
from medtalk.db.tables import users


@dataclass(frozen=True)
class User:
    id: uuid.UUID
    name: str
    role: Role


def _user(row: sa.Row[*tuple[Any, ...]]) -> User:
    return User(id=row.id, name=row.name, role=Role(row.role))


async def get_user(db: AsyncConnection, user_id: uuid.UUID) -> User | None:
    row = (
        await db.execute(
            sa.select(users.c.id, users.c.name, users.c.role).where(users.c.id == user_id)
        )
    ).first()
    return _user(row) if row else None


async def get_users(db: AsyncConnection, user_ids: set[uuid.UUID]) -> dict[uuid.UUID, User]:
    if not user_ids:
        return {}
    query = sa.select(users.c.id, users.c.name, users.c.role).where(users.c.id.in_(user_ids))
    return {row.id: _user(row) for row in await db.execute(query)}


async def upsert_user(db: AsyncConnection, user: User, now: datetime) -> None:
    """Insert the user, or update name and role when they changed."""
    existing = await get_user(db, user.id)
    if existing is None:
        await db.execute(
            users.insert().values(
                id=user.id, name=user.name, role=user.role.value, created_at=now, updated_at=now
            )
        )
    elif existing != user:
        await db.execute(
            users.update()
            .where(users.c.id == user.id)
            .values(name=user.name, role=user.role.value, updated_at=now)
        )


async def list_users(db: AsyncConnection, role: Role | None = None) -> list[User]:
    query = sa.select(users.c.id, users.c.name, users.c.role).order_by(users.c.role, users.c.name)
    if role is not None:
        query = query.where(users.c.role == role.value)
    return [_user(row) for row in await db.execute(query)]
