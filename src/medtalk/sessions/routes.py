"""REST for sessions: logout (revoke the presented token) and an admin's 'revoke all tokens'."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request

from medtalk.api.deps import AuditTrailDep, Context, RevocationsDep
from medtalk.core.wire import Timestamp, WireModel
from medtalk.sessions.service import Sessions

router = APIRouter(tags=["sessions"])


def _sessions(revocations: RevocationsDep, trail: AuditTrailDep) -> Sessions:
    return Sessions(revocations, trail)


SessionsDep = Annotated[Sessions, Depends(_sessions)]


class LoggedOut(WireModel):
    revoked: bool
    expires_at: Timestamp | None


class TokensRevoked(WireModel):
    user_id: uuid.UUID
    not_before: Timestamp
    disconnected_sockets: int


@router.post("/api/v1/auth/logout", response_model=LoggedOut)
async def logout(request: Request, context: Context, sessions: SessionsDep) -> LoggedOut:
    """Revoke the token this request carries, until it expires; its open sockets are closed."""
    await sessions.logout(context)
    await _disconnect(request, token_id=context.actor.token_id)
    expires_at: datetime | None = context.actor.expires_at
    return LoggedOut(revoked=True, expires_at=expires_at)


@router.post("/api/v1/admin/users/{user_id}/revoke-tokens", response_model=TokensRevoked)
async def revoke_tokens(
    user_id: uuid.UUID,
    request: Request,
    context: Context,
    sessions: SessionsDep,
) -> TokensRevoked:
    """ADMIN: every token of the user issued until now is refused from now on."""
    not_before = await sessions.revoke_tokens(context, user_id)
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
