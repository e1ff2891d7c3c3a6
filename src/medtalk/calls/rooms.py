"""The rooms as other features see them (recordings): who may see a room (its host, its
guest and ADMIN), a room by id or by the conference name, the calls that are over, and the
room's recording link. Recordings use this module, never calls/store.py."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncConnection

from medtalk.calls import store
from medtalk.calls.store import RoomRow, finished_room_ids, set_recording_url
from medtalk.core.auth import Principal
from medtalk.core.errors import NotFound
from medtalk.core.ids import parse_uuid

__all__ = ["RoomRow", "finished_room_ids", "room", "room_by_ref", "set_recording_url"]


async def room(db: AsyncConnection, room_id: uuid.UUID) -> RoomRow | None:
    return await store.get_room(db, room_id)


async def room_by_ref(db: AsyncConnection, room_ref: str) -> RoomRow | None:
    """A room by its id or its conference name (Jibri knows the name, `consultation-...`)."""
    room_id = parse_uuid(room_ref)
    if room_id is None:
        room_id = await store.room_id_by_name(db, room_ref)
    return await store.get_room(db, room_id) if room_id else None


async def visible_room(
    db: AsyncConnection, caller: Principal, room_id: uuid.UUID, *, lock: bool = False
) -> RoomRow:
    """The room, or NotFound for anyone else (so room ids reveal nothing)."""
    room = await store.get_room(db, room_id, lock=lock)
    if room is None or not (room.is_member(caller.user_id) or caller.is_admin):
        raise NotFound("no such room")
    return room
