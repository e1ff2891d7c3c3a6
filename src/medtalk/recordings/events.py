"""Recording consent as Socket.IO events on /ws/chat (docs/recording.md).

`RecordingEvents` is mixed into the chat namespace like `CallEvents`: parse, call the service,
acknowledge.
"""

from __future__ import annotations

from typing import Any

from medtalk.core.auth import Principal
from medtalk.core.errors import Unavailable
from medtalk.realtime.acks import acknowledged, parse
from medtalk.recordings.schemas import ConsentAnswer, RecordingRoomRef
from medtalk.recordings.service import RecordingService


class RecordingEvents:
    """Handlers for the namespace; it must provide `_state(sid).principal`."""

    _recordings: RecordingService | None = None

    def attach_recordings(self, recordings: RecordingService) -> None:
        self._recordings = recordings

    def _recording_service(self) -> RecordingService:
        if self._recordings is None:
            raise Unavailable("call recording is not enabled on this server")
        return self._recordings

    def _recording_caller(self, sid: str) -> Principal:
        principal: Principal = self._state(sid).principal  # type: ignore[attr-defined]
        return principal

    @acknowledged
    async def on_recording_request(self, sid: str, data: Any) -> dict[str, Any]:
        request = parse(RecordingRoomRef, data)
        ack = await self._recording_service().request(self._recording_caller(sid), request.room_id)
        return ack.wire()

    @acknowledged
    async def on_recording_consent(self, sid: str, data: Any) -> dict[str, Any]:
        answer = parse(ConsentAnswer, data)
        ack = await self._recording_service().consent(
            self._recording_caller(sid), answer.room_id, answer.accepted
        )
        return ack.wire()

    @acknowledged
    async def on_recording_stop(self, sid: str, data: Any) -> dict[str, Any]:
        request = parse(RecordingRoomRef, data)
        ack = await self._recording_service().stop(self._recording_caller(sid), request.room_id)
        return ack.wire()
