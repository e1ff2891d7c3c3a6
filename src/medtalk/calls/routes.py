"""REST for video-call rooms, exactly at the spec's paths. Thin: parse, call, shape."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Body

from medtalk.api.deps import CurrentUser, ServicesDep
from medtalk.calls.schemas import (
    CallEnded,
    CreateRoomRequest,
    JoinedRoom,
    JoinRoomRequest,
    RoomCreated,
    RoomToken,
)
from medtalk.calls.service import CallService
from medtalk.core.errors import Unavailable

router = APIRouter(prefix="/api/v1/video-call", tags=["video calls"])


def _calls(services: ServicesDep) -> CallService:
    calls: CallService | None = getattr(services, "calls", None)
    if calls is None:
        raise Unavailable("video calls are not enabled on this server")
    return calls


@router.post("/create-room", status_code=201, response_model=RoomCreated)
async def create_room(
    body: CreateRoomRequest, caller: CurrentUser, services: ServicesDep
) -> RoomCreated:
    return await _calls(services).create_room(caller, body)


@router.get("/rooms/{room_id}/token", response_model=RoomToken)
async def room_token(room_id: uuid.UUID, caller: CurrentUser, services: ServicesDep) -> RoomToken:
    return await _calls(services).room_token(caller, room_id)


@router.post("/rooms/{room_id}/join", response_model=JoinedRoom)
async def join_room(
    room_id: uuid.UUID,
    caller: CurrentUser,
    services: ServicesDep,
    body: JoinRoomRequest | None = Body(None),  # noqa: B008 - FastAPI's way to make it optional
) -> JoinedRoom:
    return await _calls(services).join_room(caller, room_id, body.device_info if body else None)


@router.put("/rooms/{room_id}/end", response_model=CallEnded)
async def end_call(room_id: uuid.UUID, caller: CurrentUser, services: ServicesDep) -> CallEnded:
    return await _calls(services).end_call(caller, room_id)
