"""ADMIN REST for legal holds: place, lift, read one conversation's, list the active ones."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from medtalk.api.deps import AuditTrailDep, ClockDep, Context, CurrentUser, DatabaseDep
from medtalk.legalhold.schemas import LegalHold, LegalHoldList, LegalHoldStatus, PlaceLegalHold
from medtalk.legalhold.service import MAX_PAGE, LegalHolds

router = APIRouter(prefix="/api/v1/admin", tags=["legal hold"])
HOLD_PATH = "/conversations/{conversation_id}/legal-hold"


def _holds(db: DatabaseDep, clock: ClockDep, trail: AuditTrailDep) -> LegalHolds:
    return LegalHolds(db, clock, trail)


HoldsDep = Annotated[LegalHolds, Depends(_holds)]


@router.put(
    HOLD_PATH,
    response_model=LegalHold,
    responses={201: {"model": LegalHold, "description": "the hold was placed now"}},
)
async def place_legal_hold(
    conversation_id: uuid.UUID,
    body: PlaceLegalHold,
    response: Response,
    context: Context,
    holds: HoldsDep,
) -> LegalHold:
    """Hold the conversation: retention keeps its messages, files and recordings until the
    hold is lifted. 201 when placed now, 200 when it was already held (that hold). ADMIN only."""
    hold, placed = await holds.place(context, conversation_id, body.reason)
    response.status_code = 201 if placed else 200
    return hold


@router.delete(HOLD_PATH, response_model=LegalHold)
async def lift_legal_hold(
    conversation_id: uuid.UUID,
    context: Context,
    holds: HoldsDep,
) -> LegalHold:
    """Lift the active hold (409 NOT_HELD if there is none); retention applies again. ADMIN only."""
    return await holds.lift(context, conversation_id)


@router.get(HOLD_PATH, response_model=LegalHoldStatus)
async def legal_hold_status(
    conversation_id: uuid.UUID,
    caller: CurrentUser,
    holds: HoldsDep,
) -> LegalHoldStatus:
    """Whether the conversation is held, and every hold it has had. ADMIN only."""
    return await holds.status(caller, conversation_id)


@router.get("/legal-holds", response_model=LegalHoldList)
async def active_legal_holds(
    caller: CurrentUser,
    holds: HoldsDep,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
) -> LegalHoldList:
    """Active holds, newest first. ADMIN only."""
    return LegalHoldList(holds=await holds.active(caller, offset, limit))
