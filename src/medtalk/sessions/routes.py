"""REST for sessions: logout (revoke the presented token) and an admin's 'revoke all tokens'."""

from __future__ import annotations

import uuid
from datetime import datetime

from fastapi import APIRouter, Request

from medtalk.api.audit import AuditDep
from medtalk.api.deps import CurrentUser, RevocationsDep
from medtalk.core.errors import Forbidden
from medtalk.core.wire import Timestamp, WireModel

router = APIRouter(tags=["sessions"])


class LoggedOut(WireModel):
    revoked: bool
    expires_at: Timestamp | None


class TokensRevoked(WireModel):
    user_id: uuid.UUID
    not_before: Timestamp
    disconnected_sockets: int


@router.post("/api/v1/auth/logout", response_model=LoggedOut)
async def logout(
    request: Request, caller: CurrentUser, revocations: RevocationsDep, audit: AuditDep
) -> LoggedOut:
    """Revoke the token this request carries, until it expires; its open sockets are closed."""
    await revocations.revoke_token(caller)
    await audit.ok("auth.logout", object_type="user", object_id=caller.user_id)
    await _disconnect(request, token_id=caller.token_id)
    expires_at: datetime | None = caller.expires_at
    return LoggedOut(revoked=True, expires_at=expires_at)


@router.post("/api/v1/admin/users/{user_id}/revoke-tokens", response_model=TokensRevoked)
async def revoke_tokens(
    user_id: uuid.UUID,
    request: Request,
    caller: CurrentUser,
    revocations: RevocationsDep,
    audit: AuditDep,
) -> TokensRevoked:
    """ADMIN: every token of the user issued until now is refused from now on."""
    if not caller.is_admin:
        raise Forbidden("administrators only")
    not_before = await revocations.revoke_user(user_id)
    await audit.ok("admin.revoke_tokens", object_type="user", object_id=user_id)
    closed = await _disconnect(request, user_id=user_id)
    return TokensRevoked(user_id=user_id, not_before=not_before, disconnected_sockets=closed)


async def _disconnect(
    request: Request, *, user_id: uuid.UUID | None = None, token_id: str | None = None
) -> int:
    """Close this node's sockets of the token or user (other nodes: their revocation sweep)."""
    namespace = getattr(request.app.state, "namespace", None)
    if namespace is None or not hasattr(namespace, "disconnect_sessions"):
        return 0
    count: int = await namespace.disconnect_sessions(user_id=user_id, token_id=token_id)
    return count
