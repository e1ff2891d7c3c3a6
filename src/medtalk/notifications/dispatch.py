"""Fan-out of one notification to every configured channel, each as a job of its own.

`ChannelNotifier` is the `Notifier` the `notify_offline` job calls: for each channel
(webpush, email, webhook) it writes one `deliver_notification` job, so a failing channel is
retried alone and never repeats a channel that worked. The log channel writes its line at once.

`CallSignals` turns call and recording facts into notifications: an incoming call and a
recording that is ready (seen on the event bus), a missed call (`CallService.call_finished`).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from medtalk.calls import store as calls_store
from medtalk.core.clock import Clock
from medtalk.db.engine import Database
from medtalk.jobs.outbox import JobOutbox
from medtalk.notifications.notifier import LogNotifier, Notification, Notifier

logger = logging.getLogger(__name__)

DELIVER = "deliver_notification"
MESSAGE_WAITING = "MESSAGE_WAITING"
CALL_INCOMING = "CALL_INCOMING"
CALL_MISSED = "CALL_MISSED"
RECORDING_READY = "RECORDING_READY"
JOB_CHANNELS = ("webpush", "email", "webhook")


class ChannelNotifier(Notifier):
    def __init__(
        self,
        db: Database,
        outbox: JobOutbox,
        channels: list[str],
        *,
        closers: list[Callable[[], Awaitable[None]]] | None = None,
    ) -> None:
        self._db = db
        self._outbox = outbox
        self._log = LogNotifier() if "log" in channels else None
        self._channels = [channel for channel in JOB_CHANNELS if channel in channels]
        self._closers = closers or []

    @property
    def channels(self) -> list[str]:
        return list(self._channels)

    async def notify(self, notification: Notification, idempotency_key: str) -> None:
        if self._log is not None:
            await self._log.notify(notification, idempotency_key)
        if not self._channels:
            return
        payloads = [
            {"channel": channel, "notification": notification, "key": idempotency_key}
            for channel in self._channels
        ]
        async with self._db.transaction() as db:
            await self._outbox.add_many(db, DELIVER, payloads)
        self._outbox.kick()

    async def close(self) -> None:
        for closer in self._closers:
            try:
                await closer()
            except Exception:  # noqa: BLE001 - closing is best effort
                logger.warning("could not close a notification backend")


class CallSignals:
    """An EventSink on the event bus (it only listens for two events) plus the missed-call hook.

    These notifications are written after the fact committed, not in its transaction: a crash
    in between loses the push (the call prompt and the CALL message still reach the app).
    """

    def __init__(self, db: Database, clock: Clock, notifier: Notifier) -> None:
        self._db = db
        self._clock = clock
        self._notifier = notifier

    async def message_created(
        self, conversation_id: uuid.UUID, seq: int, payload: dict[str, Any]
    ) -> None:
        """Messages are notified by the `notify_offline` job, not here."""

    async def to_conversation(
        self, conversation_id: uuid.UUID, event: str, data: dict[str, Any]
    ) -> None:
        """Nothing of a conversation's room events is pushed."""

    async def to_user(self, user_id: uuid.UUID, event: str, data: dict[str, Any]) -> None:
        if event == "call_incoming":
            notification = {
                "type": CALL_INCOMING,
                "userId": str(user_id),
                "conversationId": data.get("conversationId"),
                "roomId": data["roomId"],
                "senderId": data.get("callerId"),
            }
            await self._send(notification, f"call:{data['roomId']}:{user_id}")
        elif event == "recording_ready":
            notification = {
                "type": RECORDING_READY,
                "userId": str(user_id),
                "roomId": data["roomId"],
                "recordingId": data["recordingId"],
            }
            await self._send(notification, f"recording:{data['recordingId']}:{user_id}")

    async def call_finished(self, room_id: uuid.UUID) -> None:
        """Subscribed to CallService.call_finished: a call nobody answered is a missed call."""
        async with self._db.read() as db:
            room = await calls_store.get_room(db, room_id)
        if room is None or room.started_at is not None or room.ended_by is not None:
            return  # it took place, or someone ended it (declined, cancelled)
        notification = {
            "type": CALL_MISSED,
            "userId": str(room.guest_id),
            "conversationId": str(room.conversation_id) if room.conversation_id else None,
            "roomId": str(room.id),
            "senderId": str(room.host_id),
        }
        await self._send(notification, f"missed:{room.id}")

    async def _send(self, notification: Notification, key: str) -> None:
        try:
            await self._notifier.notify(notification, key)
        except Exception:
            logger.exception("could not write the %s notification", notification["type"])
