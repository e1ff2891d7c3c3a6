"""Recording consent as Socket.IO events on /ws/chat (docs/recording.md).

A handler group registered on the namespace like `CallEvents`: parse, call the service,
acknowledge. The service writes the audit rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from medtalk.realtime.acks import parse
from medtalk.realtime.handlers import Caller, EventHandler, HandlerGroup
from medtalk.recordings.schemas import ConsentAnswer, RecordingRoomRef
from medtalk.recordings.service import RecordingService


class RecordingEvents(HandlerGroup):
    def __init__(self, recordings: RecordingService) -> None:
        self._recordings = recordings

    def handlers(self) -> Mapping[str, EventHandler]:
        return {
            "recording_request": self.recording_request,
            "recording_consent": self.recording_consent,
            "recording_stop": self.recording_stop,
        }

    async def recording_request(self, caller: Caller, data: Any) -> dict[str, Any]:
        request = parse(RecordingRoomRef, data)
        ack = await self._recordings.request(caller.principal, request.room_id)
        return ack.wire()

    async def recording_consent(self, caller: Caller, data: Any) -> dict[str, Any]:
        answer = parse(ConsentAnswer, data)
        ack = await self._recordings.consent(caller.principal, answer.room_id, answer.accepted)
        return ack.wire()

    async def recording_stop(self, caller: Caller, data: Any) -> dict[str, Any]:
        request = parse(RecordingRoomRef, data)
        ack = await self._recordings.stop(caller.principal, request.room_id)
        return ack.wire()
