"""REST for recordings: the recorder's chunk uploads, status, downloads and Jibri's upload."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Path, Request
from fastapi.responses import Response, StreamingResponse

from medtalk.api.deps import (
    BearerCredentials,
    CurrentUser,
    RecordingDownloadsDep,
    RecordingUploadsDep,
    authenticate,
    client_of,
)
from medtalk.api.ranges import RANGE_RESPONSES, ranged_response
from medtalk.core.errors import NotFound, Unauthorized
from medtalk.recordings.schemas import ChunkStored, RecordingAck, RecordingList, RecordingStatus

router = APIRouter(prefix="/api/v1/video-call/rooms/{room_id}/recordings", tags=["recordings"])

MAX_CHUNK_INDEX = 1_000_000


@router.put("/{recording_id}/chunks/{index}", response_model=ChunkStored)
async def upload_chunk(
    room_id: uuid.UUID,
    recording_id: uuid.UUID,
    index: Annotated[int, Path(ge=0, le=MAX_CHUNK_INDEX)],
    request: Request,
    caller: CurrentUser,
    uploads: RecordingUploadsDep,
) -> Response:
    """One MediaRecorder blob (raw body). 201 when stored, 200 when that index already was."""
    length = request.headers.get("content-length", "")
    stored = await uploads.store_chunk(
        caller,
        room_id,
        recording_id,
        index,
        _body(request),
        int(length) if length.isdigit() else None,
    )
    status = 200 if stored.duplicate else 201
    return Response(stored.model_dump_json(by_alias=True), status, media_type="application/json")


@router.get("", response_model=RecordingList)
async def list_recordings(
    room_id: uuid.UUID, caller: CurrentUser, recordings: RecordingDownloadsDep
) -> RecordingList:
    return RecordingList(recordings=await recordings.list_for_room(caller, room_id))


@router.get("/{recording_id}", response_model=RecordingStatus)
async def recording_status(
    room_id: uuid.UUID,
    recording_id: uuid.UUID,
    caller: CurrentUser,
    recordings: RecordingDownloadsDep,
) -> RecordingStatus:
    """State and stored chunk indexes: a reloaded recorder resumes after the last one."""
    return await recordings.status(caller, room_id, recording_id)


@router.get("/{recording_id}/file", response_class=StreamingResponse, responses=RANGE_RESPONSES)
async def download_recording(
    room_id: uuid.UUID,
    recording_id: uuid.UUID,
    request: Request,
    recordings: RecordingDownloadsDep,
    credentials: BearerCredentials,
    expires: int | None = None,
    sig: str | None = None,
) -> Response:
    """A participant's or ADMIN's bearer token, or a valid signed link, opens a READY file."""
    if expires is not None and sig is not None:
        if not recordings.links.valid(room_id, recording_id, expires, sig):
            raise NotFound("link expired or invalid", code="LINK_INVALID")
        caller = None
        recording = await recordings.downloadable(None, room_id, recording_id)
    else:
        caller = await authenticate(request, credentials)
        request.state.principal = caller  # security: names the caller in refusal audit rows
        recording = await recordings.downloadable(caller, room_id, recording_id)
    # audit: recording.download (before a byte is sent; refusals are audited by the edge)
    await recordings.audit_download(recording, caller, client_of(request))
    mime_type = recording.mime_type or "video/webm"
    extension = mime_type.rsplit("/", 1)[-1]
    headers = {
        "Content-Disposition": f'inline; filename="recording-{recording.id}.{extension}"',
        "Cache-Control": "private, no-store",
        "X-Content-Type-Options": "nosniff",
    }
    return await ranged_response(
        request,
        size=recording.size or 0,
        media_type=mime_type,
        etag=f'"{recording.id}"',  # a READY recording's bytes never change
        headers=headers,
        open_content=lambda wanted: recordings.content(recording, wanted),
    )


@router.post("/jibri", response_model=RecordingAck)
async def jibri_upload(
    room_id: str,
    request: Request,
    uploads: RecordingUploadsDep,
    jibri_secret: Annotated[str | None, Header(alias="X-Jibri-Secret")] = None,
) -> RecordingAck:
    """Jibri's finalize script posts the finished file (room id or room name in the path)."""
    if not uploads.jibri_authorized(jibri_secret):
        raise Unauthorized("a valid X-Jibri-Secret is required")
    return await uploads.store_jibri_file(room_id, _body(request))


async def _body(request: Request) -> AsyncIterator[bytes]:
    async for piece in request.stream():
        if piece:
            yield piece
