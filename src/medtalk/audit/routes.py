"""ADMIN-only REST over the audit trail: GET /api/v1/admin/audit."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from medtalk.api.audit import AuditDep
from medtalk.api.deps import AuditTrailDep, CurrentUser
from medtalk.core.clock import parse_iso
from medtalk.core.errors import Forbidden, Invalid
from medtalk.core.wire import Timestamp, WireModel

router = APIRouter(prefix="/api/v1/admin", tags=["admin"])


class AuditEntry(WireModel):
    seq: int
    at: Timestamp
    user_id: uuid.UUID | None
    role: str | None
    action: str
    object_type: str | None
    object_id: str | None
    conversation_id: uuid.UUID | None
    client_ip: str | None
    user_agent: str | None
    outcome: str
    detail: str | None
    hash: str


class AuditPage(WireModel):
    entries: list[AuditEntry]
    next_after_seq: int | None


@router.get("/audit", response_model=AuditPage)
async def query_audit(
    caller: CurrentUser,
    trail: AuditTrailDep,
    audit: AuditDep,
    user_id: Annotated[uuid.UUID | None, Query(alias="userId")] = None,
    conversation_id: Annotated[uuid.UUID | None, Query(alias="conversationId")] = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    since: Annotated[str | None, Query(description="ISO-8601 timestamp")] = None,
    after_seq: Annotated[int, Query(alias="afterSeq", ge=0, le=2**62)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> AuditPage:
    """Audit rows, oldest first; page on with `afterSeq=nextAfterSeq`. ADMIN only (403)."""
    if not caller.is_admin:
        raise Forbidden("administrators only")
    try:
        since_at = parse_iso(since) if since else None
    except (ValueError, OverflowError):
        raise Invalid("since must be an ISO-8601 timestamp") from None
    records = await trail.query(
        user_id=user_id,
        conversation_id=conversation_id,
        action=action,
        since=since_at,
        after_seq=after_seq,
        limit=limit,
    )
    await audit.ok("admin.audit.query", object_type="audit", detail=f"{len(records)} rows")
    entries = [AuditEntry.model_validate(record.wire()) for record in records]
    next_after = records[-1].seq if len(records) == limit else None
    return AuditPage(entries=entries, next_after_seq=next_after)
