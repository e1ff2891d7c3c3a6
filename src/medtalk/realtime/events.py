"""The spec's Socket.IO events on namespace /ws/chat; each handler parses, calls a service, acks.

Every handler answers with an acknowledgement: the result on success, `{"error": {code,
message}}` on failure (mapped in `_acknowledged`, the one place for it).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from typing import Any

import socketio

from medtalk.calls.events import CallEvents
from medtalk.chat.schemas import (
    ConversationRef,
    JoinConversationRequest,
    MarkReadRequest,
    SendMessageRequest,
)
from medtalk.chat.service import ChatService
from medtalk.core import metrics
from medtalk.core.auth import Principal, TokenVerifier
from medtalk.core.errors import Invalid, MedtalkError, Unauthorized
from medtalk.core.logging import update_context
from medtalk.realtime.acks import acknowledged as _acknowledged
from medtalk.realtime.acks import parse as _parse
from medtalk.realtime.delivery import Delivery
from medtalk.realtime.fanout import NAMESPACE, conversation_room, user_room
from medtalk.recordings.events import RecordingEvents
from medtalk.users.service import UserDirectory

logger = logging.getLogger(__name__)


@dataclass
class SocketState:
    principal: Principal
    joined: set[uuid.UUID] = field(default_factory=set)


class ChatNamespace(RecordingEvents, CallEvents, socketio.AsyncNamespace):  # type: ignore[misc]
    def __init__(
        self,
        verifier: TokenVerifier,
        users: UserDirectory,
        chat: ChatService,
        delivery: Delivery,
    ) -> None:
        super().__init__(NAMESPACE)
        self._verifier = verifier
        self._users = users
        self._chat = chat
        self._delivery = delivery
        self._sockets: dict[str, SocketState] = {}

    def connected_count(self) -> int:
        return len(self._sockets)

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        try:
            principal = await self._verifier.verify_header(_bearer(environ, auth))
            await self._users.ensure(principal)
        except MedtalkError as error:
            metrics.socket_refused()
            raise socketio.exceptions.ConnectionRefusedError(error.to_dict()["error"]) from None
        self._sockets[sid] = SocketState(principal)
        metrics.socket_connected()
        update_context(user_id=str(principal.user_id))
        await self.enter_room(sid, user_room(principal.user_id))
        self.calls_socket_opened(principal)

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        state = self._sockets.pop(sid, None)
        if state is not None:
            metrics.socket_disconnected(reason if isinstance(reason, str) else None)
        self._delivery.unsubscribe(sid)
        if state is not None:
            await self.calls_socket_closed(state.principal)

    def _state(self, sid: str) -> SocketState:
        state = self._sockets.get(sid)
        if state is None:
            raise Unauthorized("not connected")
        return state

    @_acknowledged
    async def on_join_conversation(self, sid: str, data: Any) -> dict[str, Any]:
        request = _parse(JoinConversationRequest, data)
        state = self._state(sid)
        conversation = await self._chat.conversation_for(state.principal, request.conversation_id)
        await self.enter_room(sid, conversation_room(conversation.id))
        state.joined.add(conversation.id)
        replayed = await self._delivery.subscribe(
            sid, conversation.id, request.last_seq, conversation.last_seq
        )
        return {"conversationId": str(conversation.id), "joined": True, "replayed": replayed}

    @_acknowledged
    async def on_leave_conversation(self, sid: str, data: Any) -> dict[str, Any]:
        request = _parse(ConversationRef, data)
        state = self._state(sid)
        state.joined.discard(request.conversation_id)
        await self.leave_room(sid, conversation_room(request.conversation_id))
        self._delivery.unsubscribe(sid, request.conversation_id)
        return {"conversationId": str(request.conversation_id), "joined": False}

    @_acknowledged
    async def on_send_message(self, sid: str, data: Any) -> dict[str, Any]:
        request = _parse(SendMessageRequest, data)
        sent = await self._chat.send_message(
            self._state(sid).principal,
            request.conversation_id,
            request.content,
            request.content_type,
            request.client_message_id,
        )
        return sent.wire()

    @_acknowledged
    async def on_mark_read(self, sid: str, data: Any) -> dict[str, Any]:
        request = _parse(MarkReadRequest, data)
        receipt = await self._chat.mark_read(self._state(sid).principal, request.message_id)
        return receipt.wire()

    @_acknowledged
    async def on_typing_start(self, sid: str, data: Any) -> dict[str, Any]:
        return await self._relay_typing(sid, data, "typing_start")

    @_acknowledged
    async def on_typing_stop(self, sid: str, data: Any) -> dict[str, Any]:
        return await self._relay_typing(sid, data, "typing_stop")

    async def _relay_typing(self, sid: str, data: Any, event: str) -> dict[str, Any]:
        request = _parse(ConversationRef, data)
        state = self._state(sid)
        if request.conversation_id not in state.joined:
            # Only sockets that passed the participation check on join may signal typing.
            raise Invalid("join the conversation first", code="NOT_JOINED")
        payload = {
            "conversationId": str(request.conversation_id),
            "userId": str(state.principal.user_id),
            "userName": state.principal.name,
        }
        await self.emit(
            event, payload, room=conversation_room(request.conversation_id), skip_sid=sid
        )
        return {"ok": True}


def _bearer(environ: dict[str, Any], auth: Any) -> str | None:
    """The token from the handshake: `auth: {token}` as the spec's client sends it, else header."""
    token: Any = None
    if isinstance(auth, dict):
        token = auth.get("token")
    elif isinstance(auth, str):
        token = auth
    if not token:
        token = environ.get("HTTP_AUTHORIZATION")
    if not isinstance(token, str) or not token.strip():
        return None
    token = token.strip()
    return token if token.lower().startswith("bearer ") else f"Bearer {token}"
