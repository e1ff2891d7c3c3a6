"""REST for conversations and messages, exactly at the spec's paths. Thin: parse, call, shape."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query

from medtalk.api.audit import AuditDep
from medtalk.api.deps import ChatDep, Context, CurrentUser, PresenceDep
from medtalk.chat.schemas import (
    ConversationCreated,
    ConversationList,
    ConversationStatus,
    CreateConversationRequest,
    MessagePage,
    MessageReadReceipt,
    MessageSent,
    PresenceView,
    SendMessageRequest,
    StatusChange,
)
from medtalk.core.clock import parse_iso
from medtalk.core.errors import Invalid

router = APIRouter(prefix="/api/v1/chat", tags=["chat"])


@router.post("/conversations/create", status_code=201, response_model=ConversationCreated)
async def create_conversation(
    body: CreateConversationRequest, context: Context, chat: ChatDep
) -> ConversationCreated:
    return await chat.create_conversation(
        context,
        doctor_id=body.doctor_id,
        patient_id=body.patient_id,
        appointment_id=body.appointment_id,
        initial_message=body.initial_message,
    )


@router.get("/conversations", response_model=ConversationList)
async def list_conversations(
    caller: CurrentUser,
    chat: ChatDep,
    status: ConversationStatus | None = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    *,
    audit: AuditDep,
) -> ConversationList:
    listed = await chat.list_conversations(caller, status, page, limit)
    # security: the list carries each conversation's last message, so it is a PHI read.
    await audit.ok("conversation.list", detail=f"{len(listed.conversations)} conversations")
    return listed


@router.get("/conversations/{conversation_id}/messages", response_model=MessagePage)
async def get_messages(
    conversation_id: uuid.UUID,
    caller: CurrentUser,
    chat: ChatDep,
    before: Annotated[
        str | None, Query(description="ISO-8601 timestamp (or epoch ms): messages sent before it")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    *,
    audit: AuditDep,
) -> MessagePage:
    cursor = _parse_before(before) if before else None
    page = await chat.history(caller, conversation_id, cursor, limit)
    await audit.ok(  # security: audit trail
        "message.history",
        object_type="conversation",
        object_id=conversation_id,
        conversation_id=conversation_id,
        detail=f"{len(page.messages)} messages",
    )
    return page


@router.post("/messages/send", status_code=201, response_model=MessageSent)
async def send_message(body: SendMessageRequest, context: Context, chat: ChatDep) -> MessageSent:
    """REST twin of the `send_message` socket event."""
    return await chat.send_message(
        context, body.conversation_id, body.content, body.content_type, body.client_message_id
    )


@router.post("/messages/{message_id}/read", response_model=MessageReadReceipt)
async def mark_read(message_id: uuid.UUID, context: Context, chat: ChatDep) -> MessageReadReceipt:
    """REST twin of the `mark_read` socket event."""
    return await chat.mark_read(context, message_id)


@router.put("/conversations/{conversation_id}/status", response_model=StatusChange)
async def set_status(
    conversation_id: uuid.UUID, body: StatusChange, caller: CurrentUser, chat: ChatDep
) -> StatusChange:
    """The conversation's doctor closes it (`CLOSED`) or reopens it (`ACTIVE`).

    CLOSED conversations take no new messages and are archived after
    MEDTALK_ARCHIVE_AFTER_DAYS (then `ARCHIVED`, still readable).
    """
    status = await chat.set_status(caller, conversation_id, body.status)
    return StatusChange(status=status)


@router.get("/users/{user_id}/presence", response_model=PresenceView)
async def get_presence(
    user_id: uuid.UUID, caller: CurrentUser, chat: ChatDep, presence: PresenceDep
) -> PresenceView:
    """Online or not, and when last seen; only for someone who shares a conversation with you."""
    await chat.check_may_see_presence(caller, user_id)
    status = await presence.status(user_id)
    return PresenceView(user_id=user_id, online=status.online, last_seen=status.last_seen)


def _parse_before(value: str) -> datetime:
    try:
        if value.isdigit():
            number = int(value)
            return datetime.fromtimestamp(number / 1000 if number > 10**11 else number, UTC)
        return parse_iso(value)
    except (ValueError, OverflowError, OSError):
        raise Invalid("before must be an ISO-8601 timestamp or epoch milliseconds") from None
