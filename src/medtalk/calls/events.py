"""The call contract's Socket.IO events (offer, answer, ice_candidate, hangup, call_stats,
call_failure, call_ice_servers, call_admit).

A handler group registered on the /ws/chat namespace (realtime/handlers.py): one socket
carries chat and calls. Each handler parses, calls CallService, and acknowledges; `hangup`
calls the same service method as PUT end, which writes the audit row.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from typing import Any

from medtalk.calls.schemas import (
    CallAdmit,
    CallFailure,
    CallStatsReport,
    CandidateSignal,
    IceServersRequest,
    RoomRef,
    SdpSignal,
)
from medtalk.calls.service import CallService
from medtalk.realtime.acks import parse
from medtalk.realtime.handlers import Caller, EventHandler, HandlerGroup

logger = logging.getLogger(__name__)


class CallEvents(HandlerGroup):
    def __init__(self, calls: CallService) -> None:
        self._calls = calls
        # Open sockets per user on this node: the last one closing means they left the call.
        self._sockets: dict[uuid.UUID, int] = {}

    def handlers(self) -> Mapping[str, EventHandler]:
        return {
            "offer": self.offer,
            "answer": self.answer,
            "ice_candidate": self.ice_candidate,
            "hangup": self.hangup,
            "call_stats": self.call_stats,
            "call_failure": self.call_failure,
            "call_ice_servers": self.call_ice_servers,
            "call_admit": self.call_admit,
        }

    # --- connection bookkeeping -------------------------------------------------------------

    async def socket_opened(self, caller: Caller) -> None:
        user_id = caller.principal.user_id
        self._sockets[user_id] = self._sockets.get(user_id, 0) + 1
        try:
            await self._calls.participant_connected(user_id)  # back within the grace period?
        except Exception:
            logger.exception("could not record a participant coming back")

    async def socket_closed(self, caller: Caller) -> None:
        """When a user's last socket here closes, they may come back within the grace period
        (issue 17); after it they have left the rooms they were in."""
        user_id = caller.principal.user_id
        remaining = self._sockets.get(user_id, 1) - 1
        if remaining > 0:
            self._sockets[user_id] = remaining
            return
        self._sockets.pop(user_id, None)
        try:
            await self._calls.participant_disconnected(user_id)
        except Exception:
            logger.exception("could not record a participant leaving")

    # --- signaling ------------------------------------------------------------------------

    async def offer(self, caller: Caller, data: Any) -> dict[str, Any]:
        return await self._relay_sdp(caller, data, "offer")

    async def answer(self, caller: Caller, data: Any) -> dict[str, Any]:
        return await self._relay_sdp(caller, data, "answer")

    async def _relay_sdp(self, caller: Caller, data: Any, event: str) -> dict[str, Any]:
        request = parse(SdpSignal, data)
        relayed = await self._calls.signaling.relay_signal(
            caller.principal, request.room_id, event, {"sdp": request.sdp.wire()}
        )
        return {"roomId": str(request.room_id), "relayed": relayed}

    async def ice_candidate(self, caller: Caller, data: Any) -> dict[str, Any]:
        request = parse(CandidateSignal, data)
        relayed = await self._calls.signaling.relay_signal(
            caller.principal,
            request.room_id,
            "ice_candidate",
            {"candidate": request.candidate.wire()},
        )
        return {"roomId": str(request.room_id), "relayed": relayed}

    async def hangup(self, caller: Caller, data: Any) -> dict[str, Any]:
        request = parse(RoomRef, data)
        ended = await self._calls.hang_up(caller.context(), request.room_id)
        return ended.wire()

    async def call_admit(self, caller: Caller, data: Any) -> dict[str, Any]:
        """The host lets a participant in from the waiting room (twin of POST .../admit)."""
        request = parse(CallAdmit, data)
        admitted = await self._calls.admit(caller.context(), request.room_id, request.user_id)
        return admitted.wire()

    async def call_stats(self, caller: Caller, data: Any) -> dict[str, Any]:
        report = parse(CallStatsReport, data)
        score = await self._calls.signaling.report_stats(caller.principal, report)
        return {"roomId": str(report.room_id), "qualityScore": score}

    async def call_failure(self, caller: Caller, data: Any) -> dict[str, Any]:
        report = parse(CallFailure, data)
        counted = await self._calls.signaling.report_failure(
            caller.principal, report.room_id, report.reason
        )
        return {"roomId": str(report.room_id), "counted": counted}

    async def call_ice_servers(self, caller: Caller, data: Any) -> dict[str, Any]:
        request = parse(IceServersRequest, data)
        ice = await self._calls.ice_servers(caller.principal, request.room_id)
        return {"roomId": str(request.room_id), "configuration": ice.wire()}
