"""Placing, lifting and reading legal holds (ADMIN only; each change audited with it)."""

from __future__ import annotations

import uuid
from dataclasses import replace

from sqlalchemy.ext.asyncio import AsyncConnection

from medtalk.audit import AuditTrail, RequestContext
from medtalk.core.auth import Principal
from medtalk.core.clock import Clock
from medtalk.core.errors import Conflict, Forbidden, Invalid, NotFound
from medtalk.db.engine import Database
from medtalk.legalhold import store
from medtalk.legalhold.schemas import LegalHold, LegalHoldStatus

MAX_PAGE = 200


class LegalHolds:
    def __init__(self, db: Database, clock: Clock, audit: AuditTrail) -> None:
        self._db = db
        self._clock = clock
        self._audit = audit

    async def place(
        self, context: RequestContext, conversation_id: uuid.UUID, reason: str
    ) -> tuple[LegalHold, bool]:
        """The active hold, and whether it was placed now (False: it was already held)."""
        caller = context.actor
        _check_admin(caller)
        if not reason.strip():
            raise Invalid("reason is empty")
        async with self._db.transaction() as db:
            if not await store.lock_conversation(db, conversation_id):
                raise NotFound("no such conversation")
            held = await store.active_hold(db, conversation_id)
            if held is not None:
                return _view(held), False
            hold = store.HoldRow(
                id=uuid.uuid4(),
                conversation_id=conversation_id,
                reason=reason.strip(),
                placed_by=caller.user_id,
                placed_at=self._clock.now(),
                lifted_by=None,
                lifted_at=None,
            )
            await store.insert_hold(db, hold)
            await self._audited(db, "legal_hold.place", context, hold)
        return _view(hold), True

    async def lift(self, context: RequestContext, conversation_id: uuid.UUID) -> LegalHold:
        caller = context.actor
        _check_admin(caller)
        async with self._db.transaction() as db:
            if not await store.lock_conversation(db, conversation_id):
                raise NotFound("no such conversation")
            held = await store.active_hold(db, conversation_id)
            if held is None:
                raise Conflict("the conversation is not under legal hold", code="NOT_HELD")
            now = self._clock.now()
            await store.lift_hold(db, held.id, caller.user_id, now)
            await self._audited(db, "legal_hold.lift", context, held)
        return _view(replace(held, lifted_by=caller.user_id, lifted_at=now))

    async def _audited(
        self,
        db: AsyncConnection,
        action: str,
        context: RequestContext,
        hold: store.HoldRow,
    ) -> None:
        """The audit row of a change, in the change's transaction (committed with it)."""
        await self._audit.append(
            db,
            action,
            actor=context.actor,
            object_type="legal_hold",
            object_id=hold.id,
            conversation_id=hold.conversation_id,
            client=context.client,
        )

    async def status(self, caller: Principal, conversation_id: uuid.UUID) -> LegalHoldStatus:
        _check_admin(caller)
        async with self._db.read() as db:
            if not await store.conversation_exists(db, conversation_id):
                raise NotFound("no such conversation")
            holds = await store.holds_of(db, conversation_id)
        views = [_view(hold) for hold in holds]
        return LegalHoldStatus(
            conversation_id=conversation_id,
            held=any(view.active for view in views),
            holds=views,
        )

    async def active(self, caller: Principal, offset: int, limit: int) -> list[LegalHold]:
        _check_admin(caller)
        async with self._db.read() as db:
            return [_view(hold) for hold in await store.active_holds(db, offset, limit)]


def _check_admin(caller: Principal) -> None:
    if not caller.is_admin:
        raise Forbidden("administrators only")


def _view(hold: store.HoldRow) -> LegalHold:
    return LegalHold(**hold.__dict__, active=hold.lifted_at is None)
