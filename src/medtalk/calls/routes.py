"""REST for video-call rooms, exactly at the spec's paths. Thin: parse, call, shape."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Body

from medtalk.api.deps import CallsDep, Context, CurrentUser
from medtalk.calls.schemas import (
    AdmitRequest,
    Admitted,
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
async def create_room(body: CreateRoomRequest, context: Context, calls: CallsDep) -> RoomCreated:
    return await calls.create_room(context, body)


@router.get("/rooms", response_model=OpenRooms)
async def open_rooms(caller: CurrentUser, calls: CallsDep) -> OpenRooms:
    """Rooms the caller can still join (to catch up on a `call_incoming` missed offline)."""
    return await calls.open_rooms(caller)


@router.get("/rooms/{room_id}/token", response_model=RoomToken)
async def room_token(room_id: uuid.UUID, context: Context, calls: CallsDep) -> RoomToken:
    return await calls.room_token(context, room_id)


@router.post("/rooms/{room_id}/join", response_model=JoinedRoom)
async def join_room(
    room_id: uuid.UUID,
    context: Context,
    calls: CallsDep,
    body: JoinRoomRequest | None = Body(None),  # noqa: B008 - FastAPI's way to make it optional
) -> JoinedRoom:
    return await calls.join_room(context, room_id, body.device_info if body else None)


@router.post("/rooms/{room_id}/admit", response_model=Admitted)
async def admit(
    room_id: uuid.UUID, body: AdmitRequest, context: Context, calls: CallsDep
) -> Admitted:
    """The host lets a participant in from the waiting room (REST twin of `call_admit`)."""
    return await calls.admit(context, room_id, body.user_id)


@router.put("/rooms/{room_id}/end", response_model=CallEnded)
async def end_call(room_id: uuid.UUID, context: Context, calls: CallsDep) -> CallEnded:
    """REST twin of the `hangup` socket event."""
    return await calls.end_call(context, room_id)
