"""`notify_offline`: tell a participant with no connected socket that a message is waiting.

The effect is applied once: the job claims its key in `job_runs` before the POST (a second
copy of the job that arrives meanwhile is deferred, then finds it done) and marks it done
after; the key goes out as Idempotency-Key, so a receiver can drop the one repeat a runner
that dies between the POST and that mark could cause (its claim expires and the job runs
again).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta

from sqlalchemy.exc import IntegrityError

from medtalk.core.clock import Clock
from medtalk.db.engine import Database
from medtalk.jobs import store
from medtalk.jobs.notifiers import Notifier
from medtalk.jobs.registry import JobBusy, JobKind, Payload

NOTIFY_OFFLINE = "notify_offline"
IsOnline = Callable[[uuid.UUID], Awaitable[bool]]
# A runner that claimed a job and then vanished is presumed dead after this long.
CLAIM_LEASE = timedelta(seconds=60)


class NotifyOffline:
    def __init__(self, db: Database, clock: Clock, notifier: Notifier, is_online: IsOnline):
        self._db = db
        self._clock = clock
        self._notifier = notifier
        self._is_online = is_online

    async def __call__(self, payload: Payload) -> None:
        key = f"notify:{payload['messageId']}:{payload['recipientId']}"
        if not await self._claim(key):
            return
        try:
            if not await self._is_online(uuid.UUID(payload["recipientId"])):
                notification = {
                    "type": "MESSAGE_WAITING",
                    "userId": payload["recipientId"],
                    "conversationId": payload["conversationId"],
                    "messageId": payload["messageId"],
                    "sentAt": payload["sentAt"],
                }
                await self._notifier.message_waiting(notification, key)
        except BaseException:
            async with self._db.transaction() as db:
                await store.drop_claim(db, key)
            raise
        async with self._db.transaction() as db:
            await store.run_done(db, key, self._clock.now())

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
