"""Wire models of the video-call API (REST bodies, Socket.IO payloads), per docs/call-contract."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from medtalk.core.wire import StrictWireModel, Timestamp, WireModel

MAX_SDP_BYTES = 20 * 1024
MAX_CANDIDATE_BYTES = 2 * 1024


class RoomStatus(StrEnum):
    WAITING = "WAITING"
    IN_PROGRESS = "IN_PROGRESS"
    ENDED = "ENDED"
    CANCELLED = "CANCELLED"


class EndReason(StrEnum):
    ENDED_BY_HOST = "ended_by_host"
    ENDED_BY_GUEST = "ended_by_guest"
    MAX_DURATION = "max_duration"
    CANCELLED = "cancelled"


# --- REST requests ------------------------------------------------------------------------


class CreateRoomRequest(StrictWireModel):
    appointment_id: uuid.UUID | None = None
    conversation_id: uuid.UUID | None = None
    scheduled_time: datetime | None = None
    duration: int | None = Field(None, ge=1, description="planned minutes (default 30)")

    @model_validator(mode="after")
    def _one_owner(self) -> CreateRoomRequest:
        if self.appointment_id is None and self.conversation_id is None:
            raise ValueError("appointmentId or conversationId is required")
        return self


class DeviceInfo(WireModel):
    browser: str | None = Field(None, max_length=200)
    has_camera: bool = True
    has_microphone: bool = True


class JoinRoomRequest(WireModel):
    device_info: DeviceInfo | None = None


# --- REST responses -----------------------------------------------------------------------


class RoomCreated(WireModel):
    room_id: uuid.UUID
    room_name: str
    join_url: str
    host_token: str
    guest_token: str
    expires_at: Timestamp
    status: RoomStatus
    conversation_id: uuid.UUID | None
    appointment_id: uuid.UUID | None
    provider: str


class TurnServer(WireModel):
    urls: str
    username: str
    credential: str


class IceConfiguration(WireModel):
    stun_servers: list[str]
    turn_servers: list[TurnServer]


class WaitingParticipant(WireModel):
    user_id: uuid.UUID
    user_name: str


class OpenRoom(WireModel):
    """A room one can still join: the `call_incoming` fields plus state, for catching up."""

    room_id: uuid.UUID
    room_name: str
    conversation_id: uuid.UUID | None
    caller_id: uuid.UUID
    caller_name: str
    join_url: str
    status: RoomStatus
    expires_at: Timestamp | None
    # issue 17, for the host only: who is in the waiting room (a doctor who opens the app
    # after the patient came in missed `participant_waiting`)
    waiting: list[WaitingParticipant] = []


class OpenRooms(WireModel):
    rooms: list[OpenRoom]


class RoomToken(WireModel):
    access_token: str
    join_url: str
    provider: str
    room_name: str
    configuration: IceConfiguration


class Participant(WireModel):
    user_id: uuid.UUID
    name: str
    role: str
    is_video_on: bool
    is_audio_on: bool
    # issue 17: False while in the waiting room (the host lets them in with `call_admit`)
    admitted: bool = True


class JoinedRoom(WireModel):
    participants: list[Participant]
    status: RoomStatus
    # issue 17: False: the caller is in the waiting room until the host admits them
    admitted: bool = True
    # issue 17: a page that rejoins a running call keeps counting from the real start
    started_at: Timestamp | None = None


class Recording(WireModel):
    available: bool
    url: str | None


class CallEnded(WireModel):
    duration: int
    recording: Recording


# --- Socket.IO payloads -------------------------------------------------------------------


class SessionDescription(StrictWireModel):
    type: Literal["offer", "answer", "pranswer", "rollback"]
    sdp: str = Field("", max_length=MAX_SDP_BYTES)


class SdpSignal(StrictWireModel):
    room_id: uuid.UUID
    sdp: SessionDescription

    @field_validator("sdp")
    @classmethod
    def _bounded(cls, value: SessionDescription) -> SessionDescription:
        if len(value.sdp.encode()) > MAX_SDP_BYTES:
            raise ValueError(f"sdp is limited to {MAX_SDP_BYTES} bytes")
        return value


class IceCandidate(WireModel):
    """RTCIceCandidateInit; an empty `candidate` is the end-of-candidates marker."""

    candidate: str = Field("", max_length=MAX_CANDIDATE_BYTES)
    sdp_mid: str | None = Field(None, max_length=64)
    sdp_m_line_index: int | None = Field(None, ge=0, le=255, alias="sdpMLineIndex")
    username_fragment: str | None = Field(None, max_length=256)

    def wire(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class CandidateSignal(StrictWireModel):
    room_id: uuid.UUID
    candidate: IceCandidate


class RoomRef(StrictWireModel):
    room_id: uuid.UUID


class AdmitRequest(StrictWireModel):
    """REST `POST .../rooms/{roomId}/admit`: the host lets a waiting participant in."""

    user_id: uuid.UUID


class CallAdmit(StrictWireModel):
    """`call_admit`: the socket twin of POST .../admit."""

    room_id: uuid.UUID
    user_id: uuid.UUID


class Admitted(WireModel):
    room_id: uuid.UUID
    user_id: uuid.UUID
    status: RoomStatus


class IceServersRequest(StrictWireModel):
    """`call_ice_servers`: fresh ICE servers (TURN credentials) for a long call's restarts."""

    room_id: uuid.UUID


class CallFailure(StrictWireModel):
    """`call_failure`: this participant's media failed after joining."""

    room_id: uuid.UUID
    reason: Literal["ice_failed", "turn_failed", "media_failed"]


class CallStatsReport(StrictWireModel):
    room_id: uuid.UUID
    bitrate_kbps: float = Field(ge=0, le=1_000_000)
    packet_loss_pct: float = Field(ge=0, le=100)
    rtt_ms: float = Field(ge=0, le=600_000)
    frames_per_second: float = Field(ge=0, le=1000)
    width: int = Field(ge=0, le=16384)
    height: int = Field(ge=0, le=16384)
