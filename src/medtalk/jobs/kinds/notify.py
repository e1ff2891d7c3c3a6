"""`notify_offline`: tell a participant with no live socket that messages are waiting.

The send path writes this job only for a recipient with no live socket on any node, and at
most one pending job per recipient and conversation (chat/service.py, outbox coalescing). The
handler looks at what is waiting when it runs, so one notification covers every message
since the last one ("3 new messages"): the first message is told at once; later ones within
`cooldown` of a notification wait for the cooldown's end and go out together, and nothing
goes out if the recipient came online or read them meanwhile. Never message content.

The effect is applied once: the job claims its key (recipient, conversation, newest seq) in
`job_runs` before the POST (a second copy that arrives meanwhile is deferred, then finds it
done) and marks it done after; the key goes out as Idempotency-Key, so a receiver can drop
the one repeat a runner that dies between the POST and that mark could cause.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterable
from datetime import timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError

from medtalk.chat import store as chat_store
from medtalk.core.clock import Clock, iso_z
from medtalk.db.engine import Database
from medtalk.jobs import store
from medtalk.jobs.notifiers import Notifier
from medtalk.jobs.registry import Deferred, JobBusy, JobKind, Payload

NOTIFY_OFFLINE = "notify_offline"
IsOnline = Callable[[uuid.UUID], Awaitable[bool]]
# A runner that claimed a job and then vanished is presumed dead after this long.
CLAIM_LEASE = timedelta(seconds=60)


def notify_key(recipient: uuid.UUID, conversation_id: uuid.UUID) -> str:
    """The coalesce key: one pending notification per recipient and conversation."""
    return f"notify:{recipient}:{conversation_id}"


def notify_jobs(waiting: Iterable[tuple[uuid.UUID, uuid.UUID]]) -> dict[str, dict[str, Any]]:
    """The coalesced jobs (key: payload) that tell each (recipient, conversation) pair."""
    return {
        notify_key(recipient, conversation_id): {
            "recipientId": str(recipient),
            "conversationId": str(conversation_id),
        }
        for recipient, conversation_id in waiting
    }


class NotifyOffline:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        notifier: Notifier,
        is_online: IsOnline,
        *,
        cooldown: timedelta = timedelta(seconds=60),
    ) -> None:
        self._db = db
        self._clock = clock
        self._notifier = notifier
        self._is_online = is_online
        self._cooldown = cooldown

    async def __call__(self, payload: Payload) -> None:
        recipient = uuid.UUID(payload["recipientId"])
        conversation_id = uuid.UUID(payload["conversationId"])
        if await self._is_online(recipient):
            return  # they see it live, or on their next look at the conversation
        async with self._db.read() as db:
            mark = await store.notification_mark(db, recipient, conversation_id)
            waiting = await chat_store.waiting_for(
                db, conversation_id, recipient, after_seq=mark.seq if mark else 0
            )
        if waiting is None:
            return  # read (or told) already
        now = self._clock.now()
        if mark is not None and now < mark.notified_at + self._cooldown:
            # Coalesce: one notification for everything that arrives within the cooldown.
            raise Deferred("coalescing", until=mark.notified_at + self._cooldown)
        key = f"{notify_key(recipient, conversation_id)}:{waiting.newest.seq}"
        if not await self._claim(key):
            return
        notification = {
            "type": "MESSAGE_WAITING",
            "userId": str(recipient),
            "conversationId": str(conversation_id),
            "messageId": str(waiting.newest.id),
            "sentAt": iso_z(waiting.newest.sent_at),
            "senderId": str(waiting.newest.sender_id),
            "count": waiting.count,
        }
        try:
            await self._notifier.message_waiting(notification, key)
        except BaseException:
            async with self._db.transaction() as db:
                await store.drop_claim(db, key)
            raise
        async with self._db.transaction() as db:
            await store.run_done(db, key, self._clock.now())
            await store.set_notification_mark(
                db, recipient, conversation_id, waiting.newest.seq, self._clock.now()
            )

    async def _claim(self, key: str) -> bool:
        """True if this run may apply the effect; False if it was applied already.

        JobBusy if another run holds a fresh claim (the job is offered again later, and then
        finds the effect done, or the claim expired because that runner died).
        """
        try:
            async with self._db.transaction() as db:
                claim = await store.claim_run(db, key, self._clock.now(), CLAIM_LEASE)
        except IntegrityError:
            raise JobBusy(key) from None  # a concurrent run inserted the claim first
        if claim is store.Claim.BUSY:
            raise JobBusy(key)
        return claim is store.Claim.TAKEN


def kind(notify: NotifyOffline) -> JobKind:
    return JobKind(NOTIFY_OFFLINE, notify)
