"""Call history in the conversation (issue 17): every call that ends leaves a message.

A missed, declined or cancelled call and a finished call each become a message of contentType
`CALL` in the room's conversation, written through the chat service like any message (stored
sealed, delivered as `message_received`, unread for the patient, in history, paging and
export). Its sender is the doctor who placed the call; its content is JSON:

    {"outcome": "missed" | "declined" | "cancelled" | "ended", "durationSeconds": 754,
     "roomId": "..."}

`missed`: nobody answered before the room expired; `declined`: the patient ended it before
answering; `cancelled`: the doctor gave up before an answer; `ended`: the call took place.
"""

from __future__ import annotations

import json
import uuid

from medtalk.calls import store
from medtalk.chat.service import ChatService
from medtalk.core.auth import Principal, Role
from medtalk.db.engine import Database


class CallHistory:
    """Writes the call's message; run by the `record_call` job (jobs/kinds/record_call.py),
    which CallService.finish writes in the transaction that ends the room."""

    def __init__(self, db: Database, chat: ChatService) -> None:
        self._db = db
        self._chat = chat

    async def call_finished(self, room_id: uuid.UUID) -> None:
        async with self._db.read() as db:
            room = await store.get_room(db, room_id)
            if room is None or room.conversation_id is None:
                return
            names = await store.user_names(db, {room.host_id})
        if room.status == "ENDED":
            outcome = "ended"
        elif room.ended_by == room.guest_id:
            outcome = "declined"
        elif room.ended_by is not None:
            outcome = "cancelled"
        else:
            outcome = "missed"
        record = {
            "outcome": outcome,
            "durationSeconds": room.duration or 0,
            "roomId": str(room.id),
        }
        caller = Principal(user_id=room.host_id, name=names.get(room.host_id, ""), role=Role.DOCTOR)
        await self._chat.record_call(
            caller, room.conversation_id, room.id, json.dumps(record, separators=(",", ":"))
        )
