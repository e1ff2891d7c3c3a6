"""The rooms as other features see them (recordings): who may see a room (its host, its
guest and ADMIN), whether it is open now, a room by id or by the conference name, the calls
that are over, and the room's recording link. Recordings use this module, never
calls/store.py."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from medtalk.calls import store
from medtalk.calls.schemas import RoomStatus
from medtalk.calls.store import RoomRow, finished_room_ids, set_recording_url
from medtalk.core.auth import Principal
from medtalk.core.clock import iso_z
from medtalk.core.errors import Conflict, NotFound
from medtalk.core.ids import parse_uuid

__all__ = [
    "RoomRow",
    "check_open",
    "finished_room_ids",
    "room",
    "room_by_ref",
    "set_recording_url",
    "visible_room",
]


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


def check_open(room: RoomRow, now: datetime, *, early_ok: bool) -> None:
    """Conflict unless the room can be used now: CALL_ENDED, ROOM_EXPIRED (a waiting room past
    its expiresAt) or, unless `early_ok`, TOO_EARLY (before it opens)."""
    if room.status in (RoomStatus.ENDED, RoomStatus.CANCELLED):
        raise Conflict("the call has ended", code="CALL_ENDED")
    if room.status != RoomStatus.WAITING:
        return
    if room.expires_at is not None and now >= room.expires_at:
        raise Conflict("the room has expired", code="ROOM_EXPIRED")
    if not early_ok and room.opens_at is not None and now < room.opens_at:
        raise Conflict(f"the room opens at {iso_z(room.opens_at)}", code="TOO_EARLY")
