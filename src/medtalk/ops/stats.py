"""Gauges read from the database at scrape time (cached, so scrapes stay cheap)."""

from __future__ import annotations

import time
from datetime import timedelta

import sqlalchemy as sa

from medtalk.core import metrics
from medtalk.core.clock import Clock
from medtalk.db.engine import Database
from medtalk.db.tables import conversations


class ActiveConversations:
    """Active Conversations: conversations whose last message is at most `window` old."""

    def __init__(
        self, db: Database, clock: Clock, window_minutes: int, cache_seconds: float
    ) -> None:
        self._db = db
        self._clock = clock
        self._window = timedelta(minutes=window_minutes)
        self._cache_seconds = cache_seconds
        self._refreshed_at = float("-inf")

    async def refresh(self) -> None:
        """Update medtalk_active_conversations, at most once per `cache_seconds`."""
        if time.monotonic() - self._refreshed_at < self._cache_seconds:
            return
        self._refreshed_at = time.monotonic()
        since = self._clock.now() - self._window
        query = sa.select(sa.func.count()).where(conversations.c.last_message_at >= since)
        async with self._db.read() as db:
            count = (await db.execute(query)).scalar_one()
        metrics.set_active_conversations(int(count))
