"""The spec's Socket.IO events on namespace /ws/chat; each handler parses, calls a service, acks.

Every handler answers with an acknowledgement: the result on success, `{"error": {code,
message}}` on failure (mapped in `_acknowledged`, the one place for it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import socketio

from medtalk.audit import AuditTrail, Client, Outcome
from medtalk.calls.events import CallEvents
from medtalk.chat.schemas import (
    ConversationRef,
    JoinConversationRequest,
    MarkReadRequest,
    SendMessageRequest,
)
from medtalk.chat.service import ChatService
from medtalk.core import metrics
from medtalk.core.auth import Principal, RevocationCheck, TokenVerifier
from medtalk.core.clock import Clock, iso_z
from medtalk.core.errors import Invalid, MedtalkError, Unauthorized
from medtalk.core.logging import update_context
from medtalk.realtime.acks import acknowledged as _acknowledged
from medtalk.realtime.acks import parse as _parse
from medtalk.realtime.delivery import Delivery
from medtalk.realtime.edge import SocketCap
from medtalk.realtime.fanout import NAMESPACE, conversation_room, user_room
from medtalk.realtime.presence import MemoryPresence, Presence
from medtalk.recordings.events import RecordingEvents
from medtalk.users.service import UserDirectory

logger = logging.getLogger(__name__)


@dataclass
class SocketState:
    principal: Principal
    joined: set[uuid.UUID] = field(default_factory=set)
    # security (issue 9): audit context and the timer that cuts the socket at token expiry.
    client: Client = field(default_factory=Client)
    expiry: asyncio.TimerHandle | None = None


class ChatNamespace(RecordingEvents, CallEvents, socketio.AsyncNamespace):  # type: ignore[misc]
    def __init__(
        self,
        verifier: TokenVerifier,
        users: UserDirectory,
        chat: ChatService,
        delivery: Delivery,
        audit: AuditTrail | None = None,
        revocations: RevocationCheck | None = None,
        sweep_seconds: float = 15.0,
        presence: Presence | None = None,
    ) -> None:
        super().__init__(NAMESPACE)
        self._verifier = verifier
        self._users = users
        self._chat = chat
        self._delivery = delivery
        self._presence = presence or MemoryPresence(Clock(), typing_ttl_seconds=8.0)
        self._sockets: dict[str, SocketState] = {}
        self._audit = audit
        self._revocations = revocations
        self._sweep_seconds = sweep_seconds
        self._sweeper: asyncio.Task[None] | None = None
        self.socket_cap = SocketCap()  # security (issue 16): sockets per user

    def connected_count(self) -> int:
        return len(self._sockets)

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        client = _client(environ)
        try:
            principal = await self._verifier.verify_header(_bearer(environ, auth))
            await self._users.ensure(principal)
            self.socket_cap.check(principal.user_id)  # no await between check and opened
        except MedtalkError as error:
            metrics.socket_refused()
            with contextlib.suppress(Exception):
                await self._record(
                    "socket.connect", None, client, Outcome.DENIED, detail=error.code
                )
            # connect_error {message: "CODE: text", data: {code, message}}
            raise socketio.exceptions.ConnectionRefusedError(
                f"{error.code}: {error.message}", error.to_dict()["error"]
            ) from None
        state = SocketState(principal, client=client)
        self._sockets[sid] = state
        self.socket_cap.opened(principal.user_id)
        metrics.socket_connected()
        update_context(user_id=str(principal.user_id))
        self._schedule_expiry(sid, state)
        self._start_sweeper()
        await self.enter_room(sid, user_room(principal.user_id))
        await self.calls_socket_opened(principal)
        await self._record("socket.connect", principal, client, Outcome.OK)
        if await self._presence.socket_connected(principal.user_id, sid):
            await self.announce_presence(principal.user_id)

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        state = self._sockets.pop(sid, None)
        if state is not None:
            metrics.socket_disconnected(reason if isinstance(reason, str) else None)
        if state is not None and state.expiry is not None:
            state.expiry.cancel()
        self._delivery.unsubscribe(sid)
        if state is None:
            return
        self.socket_cap.closed(state.principal.user_id)
        await self.calls_socket_closed(state.principal)
        for conversation_id in state.joined:
            await self._presence.set_typing(conversation_id, state.principal.user_id, False)
        if await self._presence.socket_disconnected(state.principal.user_id, sid):
            await self.announce_presence(state.principal.user_id)

    async def announce_presence(self, user_id: uuid.UUID) -> None:
        """Tell everyone who shares a conversation with the user that they came or went."""
        try:
            status = await self._presence.status(user_id)
            counterparts = await self._chat.counterparts(user_id)
        except MedtalkError:
            return  # database away: presence is advisory; GET .../presence stays right
        payload = {
            "userId": str(user_id),
            "online": status.online,
            "lastSeen": iso_z(status.last_seen),
        }
        for other in counterparts:
            await self.emit("presence", payload, room=user_room(other))

    # --- security (issue 9): token expiry, refresh, revocation, audit ---------------------

    def _schedule_expiry(self, sid: str, state: SocketState) -> None:
        """Cut the socket when its token expires (unless `refresh_token` replaced it first)."""
        if state.expiry is not None:
            state.expiry.cancel()
            state.expiry = None
        if state.principal.expires_at is None:
            return
        delay = (state.principal.expires_at - datetime.now(UTC)).total_seconds()
        loop = asyncio.get_running_loop()
        state.expiry = loop.call_later(
            max(delay, 0.0), lambda: loop.create_task(self._end_session(sid, "TOKEN_EXPIRED"))
        )

    async def _end_session(self, sid: str, reason: str) -> None:
        if sid not in self._sockets:
            return
        with contextlib.suppress(Exception):
            await self.emit("session_ended", {"reason": reason}, to=sid)
        await self.disconnect(sid)

    async def disconnect_sessions(
        self, *, user_id: uuid.UUID | None = None, token_id: str | None = None
    ) -> int:
        """Close this node's sockets of a user, or of one token; returns how many."""
        doomed = [
            sid
            for sid, state in list(self._sockets.items())
            if (user_id is not None and state.principal.user_id == user_id)
            or (token_id is not None and state.principal.token_id == token_id)
        ]
        for sid in doomed:
            await self._end_session(sid, "TOKEN_REVOKED")
        return len(doomed)

    def _start_sweeper(self) -> None:
        if self._revocations is not None and (self._sweeper is None or self._sweeper.done()):
            self._sweeper = asyncio.get_running_loop().create_task(self._sweep())

    async def _sweep(self) -> None:
        """Revocations made on other nodes reach this node's sockets within one sweep."""
        assert self._revocations is not None
        while self._sockets:
            await asyncio.sleep(self._sweep_seconds)
            for sid, state in list(self._sockets.items()):
                try:
                    if await self._revocations.is_revoked(state.principal):
                        await self._end_session(sid, "TOKEN_REVOKED")
                except Exception:
                    logger.exception("revocation sweep failed")

    @_acknowledged
    async def on_refresh_token(self, sid: str, data: Any) -> dict[str, Any]:
        """`refresh_token` {token}: a fresh token of the same user keeps the socket open."""
        state = self._state(sid)
        token = data.get("token") if isinstance(data, dict) else None
        if not isinstance(token, str) or not token.strip():
            raise Invalid("token is required")
        header = token if token.lower().startswith("bearer ") else f"Bearer {token}"
        principal = await self._verifier.verify_header(header)
        if principal.user_id != state.principal.user_id or principal.role != state.principal.role:
            raise Invalid("the new token is for another user", code="TOKEN_MISMATCH")
        state.principal = principal
        self._schedule_expiry(sid, state)
        expires = principal.expires_at.isoformat() if principal.expires_at else None
        return {"ok": True, "expiresAt": expires}

    async def _record(
        self,
        action: str,
        principal: Principal | None,
        client: Client,
        outcome: Outcome,
        *,
        conversation_id: uuid.UUID | None = None,
        object_type: str | None = None,
        object_id: object = None,
        detail: str | None = None,
    ) -> None:
        if self._audit is None:
            return
        await self._audit.record(
            action,
            actor=principal,
            client=client,
            outcome=outcome,
            conversation_id=conversation_id,
            object_type=object_type,
            object_id=object_id,
            detail=detail,
        )

    async def _audit_refusal(self, sid: str, event: str, error: MedtalkError) -> None:
        state = self._sockets.get(sid)
        try:
            await self._record(
                f"socket.{event}",
                state.principal if state else None,
                state.client if state else Client(),
                Outcome.DENIED,
                detail=f"{error.status_code} {error.code}",
            )
        except Exception:
            logger.exception("could not record a refused socket event in the audit trail")

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
        await self._record(  # security: joining reads the conversation (replay, live messages)
            "conversation.join",
            state.principal,
            state.client,
            Outcome.OK,
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
            "typing": [str(user) for user in typing if user != state.principal.user_id],
        }

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
        state = self._state(sid)
        sent = await self._chat.send_message(
            state.principal,
            request.conversation_id,
            request.content,
            request.content_type,
            request.client_message_id,
        )
        await self._record(  # security: audit trail
            "message.send",
            state.principal,
            state.client,
            Outcome.OK,
            conversation_id=sent.conversation_id,
            object_type="message",
            object_id=sent.message_id,
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
        await self._presence.set_typing(
            request.conversation_id, state.principal.user_id, event == "typing_start"
        )
        payload = {
            "conversationId": str(request.conversation_id),
            "userId": str(state.principal.user_id),
            "userName": state.principal.name,
        }
        await self.emit(
            event, payload, room=conversation_room(request.conversation_id), skip_sid=sid
        )
        return {"ok": True}


def _client(environ: dict[str, Any]) -> Client:
    """Peer address and user agent of the handshake (uvicorn applies trusted proxy headers)."""
    scope = environ.get("asgi.scope") or {}
    peer = scope.get("client")  # engine.io's REMOTE_ADDR is a placeholder under ASGI
    ip = str(peer[0]) if peer else environ.get("REMOTE_ADDR")
    return Client(ip=ip, user_agent=environ.get("HTTP_USER_AGENT"))


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
