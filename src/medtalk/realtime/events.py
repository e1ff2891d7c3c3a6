"""The /ws/chat namespace: the socket's session (connect, token expiry and refresh, revocation,
presence) and the dispatch of every other event to a registered handler group.

Chat, calls and recording register their handler groups (chat/events.py, calls/events.py,
recordings/events.py). Every event is answered with an acknowledgement: the result on success,
`{"error": {code, message}}` on failure (mapped in realtime/acks.py, the one place for it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import socketio

from medtalk.audit import AuditTrail, Client, Outcome
from medtalk.chat.service import ChatService
from medtalk.core import metrics
from medtalk.core.auth import Principal, RevocationCheck, TokenVerifier, bearer_token
from medtalk.core.clock import Clock, iso_z
from medtalk.core.errors import Invalid, MedtalkError, Unauthorized
from medtalk.core.logging import update_context
from medtalk.realtime.acks import answer
from medtalk.realtime.edge import SocketCap
from medtalk.realtime.fanout import NAMESPACE, user_room
from medtalk.realtime.handlers import Caller, EventHandler, HandlerGroup, SocketState
from medtalk.realtime.presence import Presence
from medtalk.users.service import UserDirectory

logger = logging.getLogger(__name__)

# How far each revocation sweep's window reaches back before the previous sweep's start.
REVOCATION_SWEEP_OVERLAP = timedelta(seconds=60)


class ChatNamespace(socketio.AsyncNamespace):  # type: ignore[misc]
    def __init__(
        self,
        verifier: TokenVerifier,
        users: UserDirectory,
        chat: ChatService,
        audit: AuditTrail,
        revocations: RevocationCheck,
        presence: Presence,
        clock: Clock,
        *,
        sweep_seconds: float,
    ) -> None:
        super().__init__(NAMESPACE)
        self._verifier = verifier
        self._users = users
        self._chat = chat
        self._presence = presence
        self._sockets: dict[str, SocketState] = {}
        self._groups: list[HandlerGroup] = []
        self._handlers: dict[str, EventHandler] = {
            "refresh_token": self._refresh_token,
        }
        self._audit = audit
        self._revocations = revocations
        self._clock = clock
        self._sweep_seconds = sweep_seconds
        self._sweeper: asyncio.Task[None] | None = None
        self.socket_cap = SocketCap()  # security (issue 16): sockets per user

    def register(self, group: HandlerGroup) -> None:
        """Route the group's events to it; an event name belongs to one group only."""
        handlers = group.handlers()
        taken = self._handlers.keys() & handlers.keys()
        if taken:
            raise ValueError(f"socket events registered twice: {sorted(taken)}")
        self._handlers.update(handlers)
        self._groups.append(group)

    def events(self) -> set[str]:
        """The client events this namespace answers (realtime/edge.py lets only these in)."""
        return set(self._handlers)

    async def trigger_event(self, event: str, *args: Any) -> Any:
        """python-socketio's dispatch: connect and disconnect are ours, the rest registered."""
        handler = self._handlers.get(event)
        if handler is None:
            return await super().trigger_event(event, *args)
        sid, data = args[0], (args[1] if len(args) > 1 else None)
        return await answer(
            event,
            lambda: self._handle(handler, sid, data),
            lambda name, error: self._audit_refusal(sid, name, error),
        )

    async def _handle(self, handler: EventHandler, sid: str, data: Any) -> dict[str, Any]:
        state = self._sockets.get(sid)
        if state is None:
            raise Unauthorized("not connected")
        return await handler(Caller(sid, state), data)

    def connected_count(self) -> int:
        return len(self._sockets)

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        client = _client(environ)
        try:
            principal = await self._verifier.verify_bearer(_handshake_token(environ, auth))
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
        for group in self._groups:
            await group.socket_opened(Caller(sid, state))
        await self._record("socket.connect", principal, client, Outcome.OK)
        if await self._presence.socket_connected(principal.user_id, sid):
            await self.announce_presence(principal.user_id)

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        state = self._sockets.pop(sid, None)
        if state is not None:
            metrics.socket_disconnected(reason if isinstance(reason, str) else None)
        if state is None:
            return
        if state.expiry is not None:
            state.expiry.cancel()
        self.socket_cap.closed(state.principal.user_id)
        for group in self._groups:
            await group.socket_closed(Caller(sid, state))
        if await self._presence.socket_disconnected(state.principal.user_id, sid):
            await self.announce_presence(state.principal.user_id)
            try:
                await self._chat.went_offline(state.principal.user_id)
            except MedtalkError:
                logger.warning("offline check after a disconnect failed (database away)")

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
        # A bound method and its argument, not a closure: one timer per open socket (issue 15).
        state.expiry = asyncio.get_running_loop().call_later(max(delay, 0.0), self._expire, sid)

    def _expire(self, sid: str) -> None:
        asyncio.get_running_loop().create_task(self._end_session(sid, "TOKEN_EXPIRED"))

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
        if self._sweeper is None or self._sweeper.done():
            self._sweeper = asyncio.get_running_loop().create_task(self._sweep())

    async def _sweep(self) -> None:
        """Revocations made on other nodes reach this node's sockets within one sweep.

        Each sweep reads what was revoked since the one before (two small queries), not each
        socket's token (two queries per socket: 40,000 every sweep for 20,000 idle sockets).
        A socket's token was checked when it connected, so revocations from a little before
        the first sweep on are enough. The windows overlap by REVOCATION_SWEEP_OVERLAP, for
        other nodes' clocks and for revocations that commit a moment after they were stamped.
        """
        since = self._clock.now() - REVOCATION_SWEEP_OVERLAP
        while self._sockets:
            await asyncio.sleep(self._sweep_seconds)
            asked = self._clock.now()  # revocations are stamped with the service clock
            try:
                recent = await self._revocations.revoked_since(since)
            except Exception:  # noqa: BLE001 - the next sweep asks again from the same time
                logger.exception("revocation sweep failed")
                continue
            since = asked - REVOCATION_SWEEP_OVERLAP
            if not recent:
                continue  # the usual sweep: nothing revoked anywhere, no socket to look at
            for sid, state in list(self._sockets.items()):
                if recent.revokes(state.principal):
                    await self._end_session(sid, "TOKEN_REVOKED")

    async def _refresh_token(self, caller: Caller, data: Any) -> dict[str, Any]:
        """`refresh_token` {token}: a fresh token of the same user keeps the socket open."""
        sid, state = caller.sid, caller.state
        token = bearer_token(data.get("token") if isinstance(data, dict) else None)
        if token is None:
            raise Invalid("token is required")
        principal = await self._verifier.verify_bearer(token)
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


def _client(environ: dict[str, Any]) -> Client:
    """Peer address and user agent of the handshake (uvicorn applies trusted proxy headers)."""
    scope = environ.get("asgi.scope") or {}
    peer = scope.get("client")  # engine.io's REMOTE_ADDR is a placeholder under ASGI
    ip = str(peer[0]) if peer else environ.get("REMOTE_ADDR")
    return Client(ip=ip, user_agent=environ.get("HTTP_USER_AGENT"))


def _handshake_token(environ: dict[str, Any], auth: Any) -> str | None:
    """The token from the handshake: `auth: {token}` as the spec's client sends it, else header."""
    token: Any = auth.get("token") if isinstance(auth, dict) else auth
    return bearer_token(token) or bearer_token(environ.get("HTTP_AUTHORIZATION"))
