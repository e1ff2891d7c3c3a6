"""The HTTP side of the audit trail: who is asking (IP, user agent) and refused requests.

Routes take `audit: AuditDep` and call `await audit.ok("message.send", ...)` once the action
succeeded; refusals (401/403/404) are recorded by the error handlers via `record_refusal`.
"""

from __future__ import annotations

import logging
import uuid
from typing import Annotated, Any

from fastapi import Depends, Request

from medtalk.api.deps import AuditTrailDep, CurrentUser, client_of
from medtalk.audit import AuditTrail, Client, Outcome
from medtalk.core.auth import Principal

logger = logging.getLogger(__name__)

# Path parameters worth naming as the object of a refused request, in order of preference.
_OBJECT_PARAMS = ("message_id", "file_id", "room_id", "user_id", "conversation_id")


class AuditScope:
    """The audit trail bound to one request's caller and client."""

    def __init__(self, trail: AuditTrail, caller: Principal, client: Client) -> None:
        self.trail = trail
        self.caller = caller
        self.client = client

    async def ok(
        self,
        action: str,
        *,
        object_type: str | None = None,
        object_id: object = None,
        conversation_id: uuid.UUID | None = None,
        detail: str | None = None,
    ) -> None:
        await self.trail.record(
            action,
            actor=self.caller,
            object_type=object_type,
            object_id=object_id,
            conversation_id=conversation_id,
            client=self.client,
            detail=detail,
        )


async def audit_scope(request: Request, trail: AuditTrailDep, caller: CurrentUser) -> AuditScope:
    return AuditScope(trail, caller, client_of(request))


AuditDep = Annotated[AuditScope, Depends(audit_scope)]


async def record_refusal(request: Request, status_code: int, code: str, outcome: Outcome) -> None:
    """A refused or failed request, as one audit row; never raises (the answer must go out)."""
    route: Any = request.scope.get("route")
    if route is None and status_code == 404:
        return  # an unknown path, not an access to anything
    container = getattr(request.app.state, "container", None)
    trail: AuditTrail | None = getattr(container, "audit", None)
    if trail is None:
        return
    params: dict[str, Any] = request.path_params
    object_type, object_id = None, None
    for name in _OBJECT_PARAMS:
        if name in params:
            object_type, object_id = name.removesuffix("_id"), params[name]
            break
    conversation_id = _uuid_or_none(params.get("conversation_id"))
    principal: Principal | None = getattr(request.state, "principal", None)
    action = f"{request.method} {route.path if route is not None else request.url.path}"
    try:
        await trail.record(
            action,
            actor=principal,
            object_type=object_type,
            object_id=object_id,
            conversation_id=conversation_id,
            outcome=outcome,
            client=client_of(request),
            detail=f"{status_code} {code}",
        )
    except Exception:
        logger.exception("could not record a refused request in the audit trail")


def _uuid_or_none(value: object) -> uuid.UUID | None:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value)) if value is not None else None
    except ValueError:
        return None
