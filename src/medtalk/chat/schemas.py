"""Wire models of the chat API (REST bodies, Socket.IO payloads), with the spec's names."""

from __future__ import annotations

import uuid
from enum import StrEnum

from pydantic import Field

from medtalk.core.wire import StrictWireModel, Timestamp, WireModel


class ConversationStatus(StrEnum):
    ACTIVE = "ACTIVE"
    ARCHIVED = "ARCHIVED"
    CLOSED = "CLOSED"


class ContentType(StrEnum):
    TEXT = "TEXT"
    IMAGE = "IMAGE"
    FILE = "FILE"
    AUDIO = "AUDIO"
    VIDEO = "VIDEO"
    # issue 17: a video call's trace in the conversation, written by the server only; the
    # content is JSON, see docs/calls.md "Call history"
    CALL = "CALL"


# --- requests -----------------------------------------------------------------------------


class CreateConversationRequest(StrictWireModel):
    doctor_id: uuid.UUID | None = None
    patient_id: uuid.UUID | None = Field(None, description="when a doctor opens the conversation")
    appointment_id: uuid.UUID | None = None
    initial_message: str | None = None


class SendMessageRequest(StrictWireModel):
    conversation_id: uuid.UUID
    content: str
    content_type: ContentType = ContentType.TEXT
    client_message_id: str | None = Field(
        None, max_length=100, description="retries with the same id return the stored message"
    )


class JoinConversationRequest(StrictWireModel):
    conversation_id: uuid.UUID
    last_seq: int | None = Field(None, ge=0, description="replay messages after this seq first")


class ConversationRef(StrictWireModel):
    conversation_id: uuid.UUID


class MarkReadRequest(StrictWireModel):
    message_id: uuid.UUID


# --- responses ----------------------------------------------------------------------------


class ConversationCreated(WireModel):
    conversation_id: uuid.UUID
    doctor_id: uuid.UUID
    doctor_name: str
    patient_id: uuid.UUID
    patient_name: str
    appointment_id: uuid.UUID | None
    status: ConversationStatus
    created_at: Timestamp


class LastMessage(WireModel):
    message_id: uuid.UUID
    sender_id: uuid.UUID
    content: str
    content_type: ContentType
    sent_at: Timestamp
    is_read: bool
    unreadable: bool = Field(
        False, description="true: stored content failed decryption (tampered); content is empty"
    )


class ConversationSummary(WireModel):
    id: uuid.UUID
    doctor_id: uuid.UUID
    doctor_name: str
    patient_id: uuid.UUID
    patient_name: str
    appointment_id: uuid.UUID | None
    status: ConversationStatus
    created_at: Timestamp
    last_message: LastMessage | None
    unread_count: int
    last_seq: int


class ConversationList(WireModel):
    total: int
    page: int
    limit: int
    conversations: list[ConversationSummary]


class Message(WireModel):
    """One message, as history returns it and as `message_received` carries it."""

    id: uuid.UUID
    message_id: uuid.UUID
    conversation_id: uuid.UUID
    seq: int
    sender_id: uuid.UUID
    sender_type: str
    content: str
    content_type: ContentType
    sent_at: Timestamp
    is_read: bool
    read_at: Timestamp | None = None
    unreadable: bool = Field(
        False, description="true: stored content failed decryption (tampered); content is empty"
    )
    client_message_id: str | None = None
    file_id: uuid.UUID | None = None
    file_name: str | None = None
    file_size: int | None = None
    file_url: str | None = None
    thumbnail_url: str | None = None  # images only (files, issue 4)
    file_status: str | None = Field(
        None, description="PENDING while a malware scan runs, then CLEAN or INFECTED"
    )
    duration_seconds: float | None = Field(
        None, description="AUDIO and VIDEO: the recording's length, read from the file"
    )


class MessagePage(WireModel):
    messages: list[Message]
    has_more: bool


class MessageSent(WireModel):
    message_id: uuid.UUID
    conversation_id: uuid.UUID
    seq: int
    sent_at: Timestamp
    status: str = "SENT"


class MessageReadReceipt(WireModel):
    message_id: uuid.UUID
    conversation_id: uuid.UUID
    reader_id: uuid.UUID
    up_to_seq: int
    read_at: Timestamp


# --- scale-out: status changes and presence -----------------------------------------------


class StatusChange(WireModel):
    status: ConversationStatus


class PresenceView(WireModel):
    user_id: uuid.UUID
    online: bool
    last_seen: Timestamp | None
