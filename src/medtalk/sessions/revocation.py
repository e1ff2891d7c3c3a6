"""The revocation list interface and its in-process cache (sessions/__init__.py picks a backend).

Backends (one short file each) store two facts: single revoked tokens (until they expire) and
per-user cut-offs (tokens issued at or before the instant are refused). The database backend
is the default; a Redis backend only needs the five storage methods below.
"""

from __future__ import annotations

import time
import uuid
from abc import ABC, abstractmethod
from datetime import datetime, timedelta

from medtalk.core.auth import Principal, RecentRevocations, issued_by_cutoff
from medtalk.core.clock import Clock

CACHE_LIMIT = 50_000
# A token without `exp` is unusual (we require it), but its revocation must still end some day.
FALLBACK_TTL = timedelta(days=1)


class RevocationList(ABC):
    """Storage of revocations plus a short in-process cache of answers."""

    def __init__(self, clock: Clock, cache_seconds: float) -> None:
        self._clock = clock
        self._cache_seconds = cache_seconds
        self._tokens: dict[str, tuple[float, bool]] = {}
        self._cutoffs: dict[uuid.UUID, tuple[float, datetime | None]] = {}

    # --- storage, per backend -------------------------------------------------------------

    @abstractmethod
    async def _store_token(self, token_id: str, user_id: uuid.UUID, expires_at: datetime) -> None:
        """Remember a revoked token until `expires_at`."""

    @abstractmethod
    async def _token_is_stored(self, token_id: str) -> bool: ...

    @abstractmethod
    async def _store_cutoff(self, user_id: uuid.UUID, not_before: datetime) -> None: ...

    @abstractmethod
    async def _load_cutoff(self, user_id: uuid.UUID) -> datetime | None: ...

    @abstractmethod
    async def _revocations_since(
        self, since: datetime
    ) -> tuple[set[str], dict[uuid.UUID, datetime]]:
        """Tokens revoked, and users' cut-offs set, at or after `since`."""

    async def purge_expired(self) -> int:
        """Forget revocations of tokens that expired anyway; returns how many."""
        return 0

    # --- the public side ------------------------------------------------------------------

    async def revoke_token(self, principal: Principal) -> None:
        """Logout: this one token is refused from now until it expires."""
        if principal.token_id is None:
            return
        expires_at = principal.expires_at or self._clock.now() + FALLBACK_TTL
        await self._store_token(principal.token_id, principal.user_id, expires_at)
        self._tokens[principal.token_id] = (time.monotonic(), True)

    async def revoke_user(self, user_id: uuid.UUID) -> datetime:
        """Every token of the user issued up to now is refused; returns the cut-off."""
        not_before = self._clock.now()
        await self._store_cutoff(user_id, not_before)
        self._cutoffs[user_id] = (time.monotonic(), not_before)
        return not_before

    async def is_revoked(self, principal: Principal) -> bool:
        # A token of the revocation's own second is refused too (iat has whole seconds).
        if issued_by_cutoff(principal, await self._cutoff(principal.user_id)):
            return True
        if principal.token_id is None:
            return False
        return await self._token_revoked(principal.token_id)

    async def revoked_since(self, since: datetime) -> RecentRevocations:
        """What was revoked at or after `since`, by any node: what a node's socket sweep needs,
        in two small reads however many sockets it holds. Remembered in the cache too."""
        token_ids, cutoffs = await self._revocations_since(since)
        for token_id in token_ids:
            self._remember(self._tokens, token_id, True)
        for user_id, cutoff in cutoffs.items():
            self._remember(self._cutoffs, user_id, cutoff)
        return RecentRevocations(frozenset(token_ids), cutoffs)

    async def _cutoff(self, user_id: uuid.UUID) -> datetime | None:
        cached = self._cutoffs.get(user_id)
        if cached is not None and time.monotonic() - cached[0] < self._cache_seconds:
            return cached[1]
        cutoff = await self._load_cutoff(user_id)
        self._remember(self._cutoffs, user_id, cutoff)
        return cutoff

    async def _token_revoked(self, token_id: str) -> bool:
        cached = self._tokens.get(token_id)
        if cached is not None and (cached[1] or time.monotonic() - cached[0] < self._cache_seconds):
            return cached[1]
        revoked = await self._token_is_stored(token_id)
        self._remember(self._tokens, token_id, revoked)
        return revoked

    @staticmethod
    def _remember(cache: dict, key: object, value: object) -> None:  # type: ignore[type-arg]
        if len(cache) >= CACHE_LIMIT:
            cache.clear()  # crude but bounded; the next lookups refill it
        cache[key] = (time.monotonic(), value)
