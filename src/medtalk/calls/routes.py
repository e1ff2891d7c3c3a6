"""REST for video-call rooms, exactly at the spec's paths. Thin: parse, call, shape."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Body

from medtalk.api.audit import AuditDep
from medtalk.api.deps import CallsDep, CurrentUser
from medtalk.calls.schemas import (
    CallEnded,
    CreateRoomRequest,
    JoinedRoom,
    JoinRoomRequest,
    OpenRooms,
    RoomCreated,
    RoomToken,
)

router = APIRouter(prefix="/api/v1/video-call", tags=["video calls"])


@router.post("/create-room", status_code=201, response_model=RoomCreated)
async def create_room(
    body: CreateRoomRequest, caller: CurrentUser, calls: CallsDep, audit: AuditDep
) -> RoomCreated:
    room = await calls.create_room(caller, body)
    await audit.ok(
        "room.create", object_type="room", object_id=room.room_id,
        conversation_id=room.conversation_id,
    )  # fmt: skip
    return room


@router.get("/rooms", response_model=OpenRooms)
async def open_rooms(caller: CurrentUser, calls: CallsDep) -> OpenRooms:
    """Rooms the caller can still join (to catch up on a `call_incoming` missed offline)."""
    return await calls.open_rooms(caller)


@router.get("/rooms/{room_id}/token", response_model=RoomToken)
async def room_token(
    room_id: uuid.UUID, caller: CurrentUser, calls: CallsDep, audit: AuditDep
) -> RoomToken:
    token = await calls.room_token(caller, room_id)
    await audit.ok("room.token", object_type="room", object_id=room_id)
    return token


@router.post("/rooms/{room_id}/join", response_model=JoinedRoom)
async def join_room(
    room_id: uuid.UUID,
    caller: CurrentUser,
    calls: CallsDep,
    audit: AuditDep,
    body: JoinRoomRequest | None = Body(None),  # noqa: B008 - FastAPI's way to make it optional
) -> JoinedRoom:
    joined = await calls.join_room(caller, room_id, body.device_info if body else None)
    await audit.ok("room.join", object_type="room", object_id=room_id)
    return joined


@router.put("/rooms/{room_id}/end", response_model=CallEnded)
async def end_call(
    room_id: uuid.UUID, caller: CurrentUser, calls: CallsDep, audit: AuditDep
) -> CallEnded:
    ended = await calls.end_call(caller, room_id)
    await audit.ok("room.end", object_type="room", object_id=room_id, detail=f"{ended.duration}s")
    return ended
