"""Ordered, gap-free delivery of messages to the sockets of this node.

Each socket that joined a conversation holds a cursor: the last seq it was sent. A message is
sent only if it is the next seq; an older one is dropped (already sent), a newer one first pulls
the missing ones from the database. So a socket sees every message exactly once, in seq order,
whether it arrived live, on join-with-lastSeq replay, or after a fan-out hiccup.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from medtalk.core import metrics

logger = logging.getLogger(__name__)

# Messages after `after_seq`, oldest first, as `message_received` payloads (bounded page).
FetchAfter = Callable[[uuid.UUID, int], Awaitable[list[dict[str, Any]]]]
# Sends one payload to one socket.
SendToSocket = Callable[[str, dict[str, Any]], Awaitable[None]]


@dataclass
class _Cursor:
    seq: int
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class Delivery:
    def __init__(self, fetch_after: FetchAfter, send: SendToSocket) -> None:
        self._fetch_after = fetch_after
        self._send = send
        self._cursors: dict[uuid.UUID, dict[str, _Cursor]] = {}

    def subscribers(self, conversation_id: uuid.UUID) -> int:
        return len(self._cursors.get(conversation_id, {}))

    def lowest_cursors(self) -> dict[uuid.UUID, int]:
        """Per conversation with sockets here, the seq of the socket furthest behind."""
        return {
            conversation_id: min(cursor.seq for cursor in cursors.values())
            for conversation_id, cursors in self._cursors.items()
            if cursors
        }

    async def resync(self, conversation_id: uuid.UUID) -> None:
        """Bring every socket of the conversation up to the newest stored message.

        For a message whose fan-out was lost and that no later message will reveal (the last
        one of a burst, sent while Redis was down).
        """
        for sid, cursor in list(self._cursors.get(conversation_id, {}).items()):
            try:
                async with cursor.lock:
                    await self._catch_up(sid, conversation_id, cursor, up_to=None, live=True)
            except Exception:
                logger.exception("resync of a socket failed")

    async def subscribe(
        self, sid: str, conversation_id: uuid.UUID, last_seen: int | None, newest_seq: int
    ) -> int:
        """Start delivering to `sid`; with `last_seen`, first replay what it missed.

        Returns how many messages were replayed.
        """
        start = newest_seq if last_seen is None else min(last_seen, newest_seq)
        cursors = self._cursors.setdefault(conversation_id, {})
        cursor = cursors.get(sid)
        if cursor is None:
            cursor = cursors[sid] = _Cursor(seq=start)
        async with cursor.lock:
            if last_seen is not None:
                cursor.seq = min(cursor.seq, start)
            before = cursor.seq
            # Read to the end, not just to `newest_seq`: a message committed between the
            # caller's read and this subscription would otherwise wait for the next one.
            await self._catch_up(sid, conversation_id, cursor, up_to=None, live=False)
            return cursor.seq - before

    def unsubscribe(self, sid: str, conversation_id: uuid.UUID | None = None) -> None:
        targets = [conversation_id] if conversation_id else list(self._cursors)
        for target in targets:
            cursors = self._cursors.get(target)
            if cursors is not None:
                cursors.pop(sid, None)
                if not cursors:
                    del self._cursors[target]

    async def deliver(self, conversation_id: uuid.UUID, seq: int, payload: dict[str, Any]) -> None:
        """A committed message: send it to every subscribed socket here, in order."""
        for sid, cursor in list(self._cursors.get(conversation_id, {}).items()):
            try:
                async with cursor.lock:
                    if seq <= cursor.seq:
                        continue
                    if seq > cursor.seq + 1:
                        await self._catch_up(sid, conversation_id, cursor, up_to=seq - 1, live=True)
                    await self._send(sid, payload)
                    cursor.seq = seq
                    metrics.message_delivered(payload.get("sentAt"))
            except Exception:
                # One broken socket must not stop delivery to the others; it recovers on join.
                metrics.message_failed("delivery_error")
                logger.exception("delivery to a socket failed")

    async def _catch_up(
        self, sid: str, conversation_id: uuid.UUID, cursor: _Cursor, up_to: int | None, live: bool
    ) -> None:
        """Send what `sid` missed; `live` (a gap in live delivery) counts toward latency."""
        while up_to is None or cursor.seq < up_to:
            page = await self._fetch_after(conversation_id, cursor.seq)
            if not page:
                return
            for payload in page:
                if up_to is not None and payload["seq"] > up_to:
                    return  # the caller sends that one itself
                if payload["seq"] > cursor.seq:
                    await self._send(sid, payload)
                    cursor.seq = payload["seq"]
                    if live:
                        metrics.message_delivered(payload.get("sentAt"))
                    else:
                        metrics.message_replayed()
