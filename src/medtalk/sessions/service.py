"""Ending sessions: a logout and an ADMIN's 'revoke every token of this user', each audited
here, so any door that offers them leaves the same row."""

from __future__ import annotations

import uuid
from datetime import datetime

from medtalk.audit import AuditTrail, RequestContext
from medtalk.core.errors import Forbidden
from medtalk.sessions.revocation import RevocationList


class Sessions:
    def __init__(self, revocations: RevocationList, audit: AuditTrail) -> None:
        self._revocations = revocations
        self._audit = audit

    async def logout(self, context: RequestContext) -> None:
        """The caller's own token is refused from now until it expires."""
        await self._revocations.revoke_token(context.actor)
        await self._audited(context, "auth.logout", context.actor.user_id)

    async def revoke_tokens(self, context: RequestContext, user_id: uuid.UUID) -> datetime:
        """ADMIN: every token of `user_id` issued until now is refused; returns the cut-off."""
        if not context.actor.is_admin:
            raise Forbidden("administrators only")
        not_before = await self._revocations.revoke_user(user_id)
        await self._audited(context, "admin.revoke_tokens", user_id)
        return not_before

    async def _audited(self, context: RequestContext, action: str, user_id: uuid.UUID) -> None:
        await self._audit.record(
            action,
            actor=context.actor,
            client=context.client,
            object_type="user",
            object_id=user_id,
        )
