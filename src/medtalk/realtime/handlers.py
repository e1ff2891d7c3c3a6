"""Socket event handlers come in groups (chat/events.py, calls/events.py, recordings/events.py),
registered on the /ws/chat namespace (realtime/events.py) rather than mixed into it.

A handler gets the `Caller` (the socket an event came from, already authenticated) and the raw
payload, and returns the acknowledgement; the namespace maps errors to `{error: {...}}` acks.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from medtalk.audit import Client, RequestContext
from medtalk.core.auth import Principal


@dataclass(slots=True)  # one per open socket: no __dict__ (memory, issue 15)
class SocketState:
    principal: Principal
    joined: set[uuid.UUID] = field(default_factory=set)
    # security (issue 9): audit context and the timer that cuts the socket at token expiry.
    client: Client = field(default_factory=Client)
    expiry: asyncio.TimerHandle | None = None


@dataclass(frozen=True)
class Caller:
    """The connected socket an event came from."""

    sid: str
    state: SocketState

    @property
    def principal(self) -> Principal:
        return self.state.principal

    def context(self) -> RequestContext:
        """Who acts and from where, for a service method that audits what it changes."""
        return RequestContext(self.state.principal, self.state.client)


EventHandler = Callable[[Caller, Any], Awaitable[dict[str, Any]]]


class SocketRooms(Protocol):
    """What a handler group may do with sockets: python-socketio's namespace provides it."""

    async def enter_room(self, sid: str, room: str) -> None: ...

    async def leave_room(self, sid: str, room: str) -> None: ...

    async def emit(
        self, event: str, data: Any = None, *, room: str | None = None, skip_sid: str | None = None
    ) -> None: ...


class HandlerGroup:
    """A set of events with their handlers, and what the group does as sockets come and go."""

    def handlers(self) -> Mapping[str, EventHandler]:
        raise NotImplementedError

    async def socket_opened(self, caller: Caller) -> None:
        """After the socket authenticated (it may already emit and join rooms)."""

    async def socket_closed(self, caller: Caller) -> None:
        """After the socket went away; must not raise."""
