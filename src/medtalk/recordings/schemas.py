"""Wire models of call recording (docs/recording.md): Socket.IO payloads and REST bodies."""

from __future__ import annotations

import uuid
from enum import StrEnum

from medtalk.core.wire import StrictWireModel, Timestamp, WireModel


class RecordingState(StrEnum):
    REQUESTED = "REQUESTED"
    DECLINED = "DECLINED"
    RECORDING = "RECORDING"
    STOPPED = "STOPPED"
    ASSEMBLING = "ASSEMBLING"
    READY = "READY"
    FAILED = "FAILED"


class RecordingRoomRef(StrictWireModel):
    room_id: uuid.UUID


class ConsentAnswer(StrictWireModel):
    room_id: uuid.UUID
    accepted: bool


class RecordingAck(WireModel):
    """What `recording_request`, `recording_consent` and `recording_stop` acknowledge."""

    room_id: uuid.UUID
    recording_id: uuid.UUID
    status: RecordingState


class ChunkStored(WireModel):
    recording_id: uuid.UUID
    index: int
    size: int
    duplicate: bool


class RecordingStatus(WireModel):
    recording_id: uuid.UUID
    room_id: uuid.UUID
    status: RecordingState
    source: str
    requested_by: uuid.UUID
    requested_at: Timestamp
    consented_by: uuid.UUID | None
    consent_at: Timestamp | None
    declined_at: Timestamp | None
    started_at: Timestamp | None
    stopped_at: Timestamp | None
    stopped_by: uuid.UUID | None
    chunks: list[int]
    received_bytes: int
    size: int | None
    duration_seconds: float | None
    mime_type: str | None
    url: str | None
    failure: str | None


class RecordingList(WireModel):
    recordings: list[RecordingStatus]
