"""Who may see a room: its host, its guest and ADMIN (shared by calls and recordings)."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncConnection

from medtalk.calls import store
from medtalk.calls.store import RoomRow
from medtalk.core.auth import Principal
from medtalk.core.errors import NotFound


async def visible_room(
    db: AsyncConnection, caller: Principal, room_id: uuid.UUID, *, lock: bool = False
) -> RoomRow:
    """The room, or NotFound for anyone else (so room ids reveal nothing)."""
    room = await store.get_room(db, room_id, lock=lock)
    if room is None or not (room.is_member(caller.user_id) or caller.is_admin):
        raise NotFound("no such room")
    return room
