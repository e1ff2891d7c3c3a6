"""Revocations in the service's own database (tables revoked_tokens and token_cutoffs)."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from medtalk.core.clock import Clock
from medtalk.db.engine import Database
from medtalk.db.tables import revoked_tokens, token_cutoffs
from medtalk.sessions.revocation import RevocationList


class DatabaseRevocationList(RevocationList):
    def __init__(self, db: Database, clock: Clock, cache_seconds: float) -> None:
        super().__init__(clock, cache_seconds)
        self._db = db

    async def _store_token(self, token_id: str, user_id: uuid.UUID, expires_at: datetime) -> None:
        try:
            async with self._db.transaction() as db:
                await db.execute(
                    revoked_tokens.insert().values(
                        token_id=token_id,
                        user_id=user_id,
                        expires_at=expires_at,
                        revoked_at=self._clock.now(),
                    )
                )
        except IntegrityError:
            pass  # revoked twice: already on the list

    async def _token_is_stored(self, token_id: str) -> bool:
        query = sa.select(revoked_tokens.c.token_id).where(revoked_tokens.c.token_id == token_id)
        async with self._db.read() as db:
            return (await db.execute(query)).first() is not None

    async def _store_cutoff(self, user_id: uuid.UUID, not_before: datetime) -> None:
        async with self._db.transaction() as db:
            updated = await db.execute(
                token_cutoffs.update()
                .where(token_cutoffs.c.user_id == user_id)
                .values(not_before=not_before)
            )
            if updated.rowcount == 0:
                await db.execute(
                    token_cutoffs.insert().values(user_id=user_id, not_before=not_before)
                )

    async def _load_cutoff(self, user_id: uuid.UUID) -> datetime | None:
        query = sa.select(token_cutoffs.c.not_before).where(token_cutoffs.c.user_id == user_id)
        async with self._db.read() as db:
            value: datetime | None = (await db.execute(query)).scalar_one_or_none()
        return value

    async def _revocations_since(
        self, since: datetime
    ) -> tuple[set[str], dict[uuid.UUID, datetime]]:
        tokens = sa.select(revoked_tokens.c.token_id).where(revoked_tokens.c.revoked_at >= since)
        cutoffs = sa.select(token_cutoffs.c.user_id, token_cutoffs.c.not_before).where(
            token_cutoffs.c.not_before >= since
        )
        async with self._db.read() as db:
            token_ids = set((await db.execute(tokens)).scalars())
            return token_ids, {row.user_id: row.not_before for row in await db.execute(cutoffs)}

    async def purge_expired(self) -> int:
        async with self._db.transaction() as db:
            result = await db.execute(
                revoked_tokens.delete().where(revoked_tokens.c.expires_at < self._clock.now())
            )
        return int(result.rowcount)
