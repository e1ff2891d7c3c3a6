"""The call contract's Socket.IO events (offer, answer, ice_candidate, hangup, call_stats,
call_failure).

`CallEvents` is mixed into the /ws/chat namespace (realtime/events.py): one socket carries chat
and calls. Each handler parses, calls CallService, and acknowledges.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from medtalk.calls.schemas import (
    CallFailure,
    CallStatsReport,
    CandidateSignal,
    IceServersRequest,
    RoomRef,
    SdpSignal,
)
from medtalk.calls.service import CallService
from medtalk.core.auth import Principal
from medtalk.core.errors import Unavailable
from medtalk.realtime.acks import acknowledged, parse

logger = logging.getLogger(__name__)


class CallEvents:
    """Handlers for the namespace; it must provide `_state(sid).principal`."""

    _calls: CallService | None = None
    _call_sockets: dict[uuid.UUID, int]

    def attach_calls(self, calls: CallService) -> None:
        self._calls = calls
        self._call_sockets = {}

    def _call_service(self) -> CallService:
        if self._calls is None:
            raise Unavailable("video calls are not enabled on this server")
        return self._calls

    def _caller(self, sid: str) -> Principal:
        principal: Principal = self._state(sid).principal  # type: ignore[attr-defined]
        return principal

    # --- connection bookkeeping (called by the namespace) ---------------------------------

    async def calls_socket_opened(self, principal: Principal) -> None:
        if self._calls is not None:
            count = self._call_sockets.get(principal.user_id, 0)
            self._call_sockets[principal.user_id] = count + 1
            try:
                await self._calls.participant_connected(principal.user_id)
            except Exception:
                logger.exception("could not record a participant coming back")

    async def calls_socket_closed(self, principal: Principal) -> None:
        """When a user's last socket here closes, they may come back within the grace period;
        after it they have left the rooms they were in."""
        if self._calls is None:
            return
        remaining = self._call_sockets.get(principal.user_id, 1) - 1
        if remaining > 0:
            self._call_sockets[principal.user_id] = remaining
            return
        self._call_sockets.pop(principal.user_id, None)
        try:
            await self._calls.participant_disconnected(principal.user_id)
        except Exception:
            logger.exception("could not record a participant leaving")

    # --- signaling ------------------------------------------------------------------------

    @acknowledged
    async def on_offer(self, sid: str, data: Any) -> dict[str, Any]:
        return await self._relay_sdp(sid, data, "offer")

    @acknowledged
    async def on_answer(self, sid: str, data: Any) -> dict[str, Any]:
        return await self._relay_sdp(sid, data, "answer")

    async def _relay_sdp(self, sid: str, data: Any, event: str) -> dict[str, Any]:
        request = parse(SdpSignal, data)
        relayed = await self._call_service().relay_signal(
            self._caller(sid), request.room_id, event, {"sdp": request.sdp.wire()}
        )
        return {"roomId": str(request.room_id), "relayed": relayed}

    @acknowledged
    async def on_ice_candidate(self, sid: str, data: Any) -> dict[str, Any]:
        request = parse(CandidateSignal, data)
        relayed = await self._call_service().relay_signal(
            self._caller(sid),
            request.room_id,
            "ice_candidate",
            {"candidate": request.candidate.wire()},
        )
        return {"roomId": str(request.room_id), "relayed": relayed}

    @acknowledged
    async def on_hangup(self, sid: str, data: Any) -> dict[str, Any]:
        request = parse(RoomRef, data)
        ended = await self._call_service().hang_up(self._caller(sid), request.room_id)
        return ended.wire()

    @acknowledged
    async def on_call_stats(self, sid: str, data: Any) -> dict[str, Any]:
        report = parse(CallStatsReport, data)
        score = await self._call_service().report_stats(self._caller(sid), report)
        return {"roomId": str(report.room_id), "qualityScore": score}

    @acknowledged
    async def on_call_failure(self, sid: str, data: Any) -> dict[str, Any]:
        report = parse(CallFailure, data)
        counted = await self._call_service().report_failure(
            self._caller(sid), report.room_id, report.reason
        )
        return {"roomId": str(report.room_id), "counted": counted}

    @acknowledged
    async def on_call_ice_servers(self, sid: str, data: Any) -> dict[str, Any]:
        request = parse(IceServersRequest, data)
        ice = await self._call_service().ice_servers(self._caller(sid), request.room_id)
        return {"roomId": str(request.room_id), "configuration": ice.wire()}
