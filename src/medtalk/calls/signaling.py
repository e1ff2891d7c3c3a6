"""What the participants' pages exchange during a call: WebRTC signaling (offer, answer,
ice_candidate) relayed between those let in, quality reports (`call_stats`) and media
failures (`call_failure`)."""

from __future__ import annotations

import uuid
from typing import Any

from medtalk.calls import store
from medtalk.calls.quality import CallSample, quality_score
from medtalk.calls.rooms import check_open, visible_room
from medtalk.calls.schemas import CallStatsReport
from medtalk.core import metrics
from medtalk.core.auth import Principal
from medtalk.core.clock import Clock
from medtalk.core.errors import Conflict, Invalid
from medtalk.core.events import EventSink, announce_to_users
from medtalk.core.ids import new_id
from medtalk.db.engine import Database

SIGNALS = ("offer", "answer", "ice_candidate")
FAILURE_MEMORY = 10_000  # media failures remembered per process, to count each call's once


class CallSignaling:
    def __init__(self, db: Database, clock: Clock, events: EventSink, provider: str) -> None:
        self._db = db
        self._clock = clock
        self._events = events
        self._provider = provider
        # (room, user) pairs whose media failure was counted (insertion-ordered, bounded).
        self._failures_reported: dict[tuple[uuid.UUID, uuid.UUID], None] = {}

    async def relay_signal(
        self, caller: Principal, room_id: uuid.UUID, event: str, body: dict[str, Any]
    ) -> int:
        """Pass offer/answer/ice_candidate to the room's other admitted participants (all
        their sockets, never back to the sender); how many users got it."""
        if event not in SIGNALS:
            raise Invalid(f"unknown signal {event!r}")
        async with self._db.read() as db:
            room = await visible_room(db, caller, room_id)
            check_open(room, self._clock.now(), early_ok=True)
            joined = await store.participants(db, room.id, present_only=False)
        sender = next((p for p in joined if p.user_id == caller.user_id), None)
        if sender is None:
            raise Conflict("join the room first", code="NOT_JOINED")
        # The waiting room (issue 17): nothing passes to or from anyone not let in.
        if not sender.admitted:
            raise Conflict("wait until the doctor lets you in", code="NOT_ADMITTED")
        recipients = {p.user_id for p in joined if p.admitted} - {caller.user_id}
        payload = {"roomId": str(room.id), "fromUserId": str(caller.user_id), **body}
        await announce_to_users(self._events, recipients, event, payload)
        return len(recipients)

    async def report_stats(self, caller: Principal, report: CallStatsReport) -> int:
        """Store a participant's getStats() summary; returns its quality score (0-100)."""
        sample = CallSample(
            bitrate_kbps=report.bitrate_kbps,
            packet_loss_pct=report.packet_loss_pct,
            rtt_ms=report.rtt_ms,
            frames_per_second=report.frames_per_second,
            width=report.width,
            height=report.height,
        )
        score = quality_score(sample)
        metrics.call_quality(score)
        async with self._db.transaction() as db:
            room = await visible_room(db, caller, report.room_id)
            if await store.get_participant(db, room.id, caller.user_id) is None:
                raise Conflict("join the room first", code="NOT_JOINED")
            await store.insert_stats(
                db,
                id=new_id(),
                room_id=room.id,
                user_id=caller.user_id,
                reported_at=self._clock.now(),
                quality_score=score,
                **sample.__dict__,
            )
        return score

    async def report_failure(self, caller: Principal, room_id: uuid.UUID, reason: str) -> bool:
        """A participant's media failed (ICE, TURN relay, camera): counted once per participant
        and call in `medtalk_video_call_failures_total`. True when this report was counted."""
        async with self._db.read() as db:
            room = await visible_room(db, caller, room_id)
            if await store.get_participant(db, room.id, caller.user_id) is None:
                raise Conflict("join the room first", code="NOT_JOINED")
        key = (room.id, caller.user_id)
        if key in self._failures_reported:
            return False
        self._failures_reported[key] = None
        while len(self._failures_reported) > FAILURE_MEMORY:
            self._failures_reported.pop(next(iter(self._failures_reported)))
        metrics.call_failed(self._provider, reason)
        return True
