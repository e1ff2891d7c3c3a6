"""`email_digest`: one plain-text email per user and window, for users who opted in.

It says how many messages wait and in how many conversations, and links to the app: no names,
no content. Written by the `deliver_notification` job's email channel for the window's end.
"""

from __future__ import annotations

import uuid

from medtalk.core.clock import Clock
from medtalk.db.engine import Database
from medtalk.jobs.registry import JobKind, Payload
from medtalk.notifications import store
from medtalk.notifications.delivery import EMAIL_DIGEST
from medtalk.notifications.email import Mailer
from medtalk.notifications.once import once

SUBJECT = "medtalk: tin nhắn đang chờ / messages waiting"


def digest_text(messages: int, conversations: int, app_url: str) -> str:
    return (
        f"Bạn có {messages} tin nhắn chưa đọc trong {conversations} cuộc trò chuyện.\n"
        f"Mở medtalk để đọc: {app_url}\n\n"
        f"You have {messages} unread messages in {conversations} conversations.\n"
        f"Open medtalk to read them: {app_url}\n\n"
        "-- \n"
        "Tắt email này trong phần Thông báo của ứng dụng. / "
        "Turn these emails off under Notifications in the app.\n"
    )


class Digests:
    def __init__(self, db: Database, clock: Clock, mailer: Mailer, app_url: str) -> None:
        self._db = db
        self._clock = clock
        self._mailer = mailer
        self._app_url = app_url or "/"

    async def __call__(self, payload: Payload) -> None:
        user_id = uuid.UUID(payload["userId"])
        key = f"digest:{user_id}:{payload['dueAt']}"
        await once(self._db, self._clock, key, lambda: self.send(user_id, key))

    async def send(self, user_id: uuid.UUID, key: str) -> None:
        async with self._db.read() as db:
            wanted = await store.preferences(db, user_id)
            if not (wanted.email_digest and wanted.email):
                return  # opted out meanwhile
            messages, conversations = await store.unread_for(db, user_id)
        if messages == 0:
            return  # read meanwhile: nothing to tell
        text = digest_text(messages, conversations, self._app_url)
        await self._mailer.send(wanted.email, SUBJECT, text, message_id=key.replace(":", "."))


def kind(digests: Digests) -> JobKind:
    return JobKind(EMAIL_DIGEST, digests)
