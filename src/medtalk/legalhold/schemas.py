"""Wire models of legal holds (camelCase on the wire)."""

from __future__ import annotations

import uuid

from pydantic import Field

from medtalk.core.wire import StrictWireModel, Timestamp, WireModel


class PlaceLegalHold(StrictWireModel):
    reason: str = Field(
        min_length=1,
        max_length=300,
        description="the legal matter, e.g. a case reference (no patient data: stored in clear)",
    )


class LegalHold(WireModel):
    id: uuid.UUID
    conversation_id: uuid.UUID
    reason: str
    placed_by: uuid.UUID
    placed_at: Timestamp
    lifted_by: uuid.UUID | None = None
    lifted_at: Timestamp | None = None
    active: bool


class LegalHoldStatus(WireModel):
    conversation_id: uuid.UUID
    held: bool
    holds: list[LegalHold] = Field(description="every hold, newest first")


class LegalHoldList(WireModel):
    holds: list[LegalHold]
