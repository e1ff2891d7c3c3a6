"""Chat's Socket.IO events on /ws/chat: join, leave, send, mark read, typing.

A handler group registered on the namespace (realtime/handlers.py): parse, call ChatService,
acknowledge. `send_message` and `mark_read` call the same service methods as their REST twins,
which write the audit rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from medtalk.audit import AuditTrail
from medtalk.chat.schemas import (
    ConversationRef,
    JoinConversationRequest,
    MarkReadRequest,
    SendMessageRequest,
)
from medtalk.chat.service import ChatService
from medtalk.core.errors import Invalid
from medtalk.realtime.acks import parse
from medtalk.realtime.delivery import Delivery
from medtalk.realtime.fanout import conversation_room
from medtalk.realtime.handlers import Caller, EventHandler, HandlerGroup, SocketRooms
from medtalk.realtime.presence import Presence


class ChatEvents(HandlerGroup):
    def __init__(
        self,
        rooms: SocketRooms,
        chat: ChatService,
        delivery: Delivery,
        presence: Presence,
        audit: AuditTrail,
    ) -> None:
        self._rooms = rooms
        self._chat = chat
        self._delivery = delivery
        self._presence = presence
        self._audit = audit

    def handlers(self) -> Mapping[str, EventHandler]:
        return {
            "join_conversation": self.join_conversation,
            "leave_conversation": self.leave_conversation,
            "send_message": self.send_message,
            "mark_read": self.mark_read,
            "typing_start": self.typing_start,
            "typing_stop": self.typing_stop,
        }

    async def socket_closed(self, caller: Caller) -> None:
        self._delivery.unsubscribe(caller.sid)
        for conversation_id in caller.state.joined:
            await self._presence.set_typing(conversation_id, caller.principal.user_id, False)

    async def join_conversation(self, caller: Caller, data: Any) -> dict[str, Any]:
        request = parse(JoinConversationRequest, data)
        principal = caller.principal
        conversation = await self._chat.conversation_for(principal, request.conversation_id)
        await self._rooms.enter_room(caller.sid, conversation_room(conversation.id))
        caller.state.joined.add(conversation.id)
        replayed = await self._delivery.subscribe(
            caller.sid, conversation.id, request.last_seq, conversation.last_seq
        )
        await self._audit.record(  # security: joining reads the conversation (replay, live)
            "conversation.join",
            actor=principal,
            client=caller.state.client,
            conversation_id=conversation.id,
            object_type="conversation",
            object_id=conversation.id,
            detail=f"replayed {replayed}",
        )
        typing = await self._presence.typing(conversation.id)
        return {
            "conversationId": str(conversation.id),
            "joined": True,
            "replayed": replayed,
            "typing": [str(user) for user in typing if user != principal.user_id],
        }

    async def leave_conversation(self, caller: Caller, data: Any) -> dict[str, Any]:
        request = parse(ConversationRef, data)
        caller.state.joined.discard(request.conversation_id)
        await self._rooms.leave_room(caller.sid, conversation_room(request.conversation_id))
        self._delivery.unsubscribe(caller.sid, request.conversation_id)
        return {"conversationId": str(request.conversation_id), "joined": False}

    async def send_message(self, caller: Caller, data: Any) -> dict[str, Any]:
        request = parse(SendMessageRequest, data)
        sent = await self._chat.send_message(
            caller.context(),
            request.conversation_id,
            request.content,
            request.content_type,
            request.client_message_id,
        )
        return sent.wire()

    async def mark_read(self, caller: Caller, data: Any) -> dict[str, Any]:
        request = parse(MarkReadRequest, data)
        receipt = await self._chat.mark_read(caller.context(), request.message_id)
        return receipt.wire()

    async def typing_start(self, caller: Caller, data: Any) -> dict[str, Any]:
        return await self._relay_typing(caller, data, "typing_start")

    async def typing_stop(self, caller: Caller, data: Any) -> dict[str, Any]:
        return await self._relay_typing(caller, data, "typing_stop")

    async def _relay_typing(self, caller: Caller, data: Any, event: str) -> dict[str, Any]:
        request = parse(ConversationRef, data)
        principal = caller.principal
        if request.conversation_id not in caller.state.joined:
            # Only sockets that passed the participation check on join may signal typing.
            raise Invalid("join the conversation first", code="NOT_JOINED")
        await self._presence.set_typing(
            request.conversation_id, principal.user_id, event == "typing_start"
        )
        payload = {
            "conversationId": str(request.conversation_id),
            "userId": str(principal.user_id),
            "userName": principal.name,
        }
        await self._rooms.emit(
            event, payload, room=conversation_room(request.conversation_id), skip_sid=caller.sid
        )
        return {"ok": True}
