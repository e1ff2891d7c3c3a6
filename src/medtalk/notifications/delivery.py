"""`deliver_notification`: one notification through one channel (webpush, email, webhook).

Each effect is applied once: a push per subscription, the digest scheduling per window and
the webhook POST claim their key in `job_runs` first (jobs/store.py), so a repeated job skips
what a previous run finished. Preferences are read when the job runs: push off, or quiet hours
(everything but an incoming call), means no push; email only for users who opted in.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from medtalk.chat import store as chat_store
from medtalk.core.clock import Clock
from medtalk.core.crypto import DecryptionError, KeyRing
from medtalk.db.engine import Database
from medtalk.jobs.outbox import JobOutbox
from medtalk.jobs.registry import JobKind, Payload
from medtalk.notifications import store
from medtalk.notifications.dispatch import CALL_INCOMING, DELIVER, MESSAGE_WAITING
from medtalk.notifications.notifier import Notification
from medtalk.notifications.once import once
from medtalk.notifications.webhook import WebhookNotifier
from medtalk.notifications.webpush import PushGone, WebPushSender

logger = logging.getLogger(__name__)

EMAIL_DIGEST = "email_digest"
PREVIEW_CHARS = 80


class Delivery:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        outbox: JobOutbox,
        *,
        webpush: WebPushSender | None,
        webhook: WebhookNotifier | None,
        digest_window: timedelta,
        previews: KeyRing | None = None,
    ) -> None:
        self._db = db
        self._clock = clock
        self._outbox = outbox
        self._webpush = webpush
        self._webhook = webhook
        self._digest_window = digest_window
        self._previews = previews

    async def __call__(self, payload: Payload) -> None:
        channel, notification, key = payload["channel"], payload["notification"], payload["key"]
        if channel == "webpush" and self._webpush is not None:
            await self.push(notification, key)
        elif channel == "webhook" and self._webhook is not None:
            webhook = self._webhook
            await self._once(f"webhook:{key}", lambda: webhook.notify(notification, key))
        elif channel == "email":
            await self.schedule_digest(notification)
        else:
            logger.warning("no %s channel in this process: notification dropped", channel)

    # --- Web Push -----------------------------------------------------------------------

    async def push(self, notification: Notification, key: str) -> None:
        assert self._webpush is not None
        sender = self._webpush
        user_id = uuid.UUID(notification["userId"])
        async with self._db.read() as db:
            wanted = await store.preferences(db, user_id)
            subscriptions = await store.subscriptions_of(db, user_id)
            if not subscriptions:
                return
            body = await self._push_body(db, notification)
        urgent = notification["type"] == CALL_INCOMING
        if not wanted.push or (wanted.quiet_at(self._clock.now()) and not urgent):
            return
        data = json.dumps(body, separators=(",", ":")).encode()
        for subscription in subscriptions:

            async def send(target: Any = subscription.target) -> None:
                await sender.send(target, data, urgent=urgent)

            try:
                await self._once(f"push:{key}:{subscription.id}", send)
            except PushGone:
                async with self._db.transaction() as db:
                    await store.forget_subscription(db, subscription.id)
                logger.info("push subscription %s is gone: deleted", subscription.id)

    async def _push_body(self, db: Any, notification: Notification) -> dict[str, Any]:
        """What the service worker shows: ids, the other person's name and a count; never
        message content (docs/notifications.md)."""
        user_id = uuid.UUID(notification["userId"])
        conversation_id = notification.get("conversationId")
        if notification.get("senderId"):
            name = await store.user_name(db, uuid.UUID(notification["senderId"]))
        elif conversation_id:
            name = await store.counterpart_name(db, uuid.UUID(conversation_id), user_id)
        else:
            name = ""
        body = {
            "type": notification["type"],
            "conversationId": conversation_id,
            "senderName": name,
            "count": int(notification.get("count", 1)),
        }
        for extra in ("roomId", "recordingId", "messageId"):
            if notification.get(extra):
                body[extra] = notification[extra]
        if self._previews is not None and notification.get("messageId"):
            preview = await self._preview(db, uuid.UUID(notification["messageId"]))
            if preview:
                body["preview"] = preview
        return body

    async def _preview(self, db: Any, message_id: uuid.UUID) -> str | None:
        """The first words of a text message, for deployments that turned previews on."""
        assert self._previews is not None
        message = await chat_store.get_message(db, message_id)
        if message is None or message.content_type != "TEXT":
            return None
        try:
            text = self._previews.open_text(message.key_id, message.content, str(message.id))
        except (DecryptionError, ValueError):
            return None
        return text if len(text) <= PREVIEW_CHARS else text[: PREVIEW_CHARS - 1] + "…"

    # --- email digests --------------------------------------------------------------------

    async def schedule_digest(self, notification: Notification) -> None:
        """The user's digest of the current window, scheduled once for its end."""
        if notification["type"] != MESSAGE_WAITING:
            return
        user_id = uuid.UUID(notification["userId"])
        due_at = window_end(self._clock.now(), self._digest_window)
        async with self._db.transaction() as db:
            wanted = await store.preferences(db, user_id)
            if not (wanted.email_digest and wanted.email):
                return
            if await store.schedule_digest(db, user_id, due_at):
                await self._outbox.add(
                    db,
                    EMAIL_DIGEST,
                    {"userId": str(user_id), "dueAt": due_at.isoformat()},
                    not_before=due_at,
                )
        self._outbox.kick()

    async def _once(self, key: str, effect: Callable[[], Awaitable[None]]) -> None:
        await once(self._db, self._clock, key, effect)


def window_end(now: datetime, window: timedelta) -> datetime:
    """The end of the fixed window `now` falls in (windows start at the epoch)."""
    seconds = window.total_seconds()
    start = (now.timestamp() // seconds) * seconds
    return datetime.fromtimestamp(start + seconds, tz=now.tzinfo)


def kind(delivery: Delivery) -> JobKind:
    return JobKind(DELIVER, delivery)
