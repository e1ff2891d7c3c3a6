"""Just-in-time provisioning: the first valid token of a user creates (or refreshes) their row."""

from __future__ import annotations

import uuid

from sqlalchemy.exc import IntegrityError

from medtalk.core.auth import Principal, Role
from medtalk.core.clock import Clock
from medtalk.db.engine import Database
from medtalk.users import store
from medtalk.users.store import User


class UserDirectory:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock
        # Users already in sync with their token, so most requests skip the write.
        self._known: dict[uuid.UUID, User] = {}

    async def ensure(self, principal: Principal) -> User:
        user = User(id=principal.user_id, name=principal.name, role=principal.role)
        if self._known.get(user.id) == user:
            return user
        try:
            async with self._db.transaction() as db:
                await store.upsert_user(db, user, self._clock.now())
        except IntegrityError:
            pass  # another request provisioned the same user a moment ago
        self._known[user.id] = user
        return user

    async def add(self, name: str, role: Role, user_id: uuid.UUID | None = None) -> User:
        user = User(id=user_id or uuid.uuid4(), name=name, role=role)
        async with self._db.transaction() as db:
            await store.upsert_user(db, user, self._clock.now())
        self._known[user.id] = user
        return user

    async def get(self, user_id: uuid.UUID) -> User | None:
        async with self._db.read() as db:
            return await store.get_user(db, user_id)

    async def list(self, role: Role | None = None) -> list[User]:
        async with self._db.read() as db:
            return await store.list_users(db, role)
