"""REST for files: the spec's upload endpoint and the download behind `fileUrl`."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse, Response, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials

from medtalk.api.audit import AuditDep
from medtalk.api.deps import (
    AuditTrailDep,
    BearerCredentials,
    CurrentUser,
    FilesDep,
    authenticate,
    client_of,
)
from medtalk.api.ranges import RANGE_RESPONSES, ranged_response
from medtalk.audit import AuditTrail
from medtalk.chat.schemas import ContentType
from medtalk.core.errors import NotFound
from medtalk.files.service import FileService, FileUploaded
from medtalk.files.store import StoredFile

router = APIRouter(prefix="/api/v1/chat", tags=["files"])

UPLOAD_READ = 256 * 1024


@router.post("/messages/upload", status_code=201, response_model=FileUploaded)
async def upload_file(
    caller: CurrentUser,
    files: FilesDep,
    conversation_id: Annotated[uuid.UUID, Form(alias="conversationId")],
    file: Annotated[UploadFile, File()],
    file_type: Annotated[ContentType | None, Form(alias="fileType")] = None,
    *,
    audit: AuditDep,
) -> FileUploaded:
    """Type from the bytes, per-type size limits; images lose their metadata.

    Oversized bodies never get here: app.py refuses them by Content-Length, or once the
    streamed body passes the largest limit. The multipart parser spools the file to a
    temporary file (1 MB in memory), which is read here in pieces.
    """
    uploaded = await files.upload(caller, conversation_id, file.filename, file_type, _chunks(file))
    await audit.ok(  # security: audit trail (ids and size only, never the file name)
        "file.upload",
        object_type="file",
        object_id=uploaded.file_id,
        conversation_id=conversation_id,
        detail=f"{uploaded.mime_type} {uploaded.file_size} bytes",
    )
    return uploaded


@router.get("/files/{file_id}", response_class=StreamingResponse, responses=RANGE_RESPONSES)
async def download_file(
    file_id: uuid.UUID,
    request: Request,
    files: FilesDep,
    trail: AuditTrailDep,
    credentials: BearerCredentials,
    expires: int | None = None,
    sig: str | None = None,
) -> Response:
    """A participant's bearer token, or a valid unexpired signed link, opens a CLEAN file."""
    stored = await _authorized(
        request, files, trail, credentials, file_id, expires, sig, thumbnail=False
    )
    return await _serve(request, files, stored)


@router.get(
    "/files/{file_id}/thumbnail", response_class=StreamingResponse, responses=RANGE_RESPONSES
)
async def download_thumbnail(
    file_id: uuid.UUID,
    request: Request,
    files: FilesDep,
    trail: AuditTrailDep,
    credentials: BearerCredentials,
    expires: int | None = None,
    sig: str | None = None,
) -> Response:
    """The image's JPEG thumbnail, on the same terms as the file itself."""
    stored = await _authorized(
        request, files, trail, credentials, file_id, expires, sig, thumbnail=True
    )
    return await _serve(request, files, stored.thumbnail(), etag_suffix="-thumbnail")


async def _authorized(
    request: Request,
    files: FileService,
    trail: AuditTrail,
    credentials: HTTPAuthorizationCredentials | None,
    file_id: uuid.UUID,
    expires: int | None,
    sig: str | None,
    *,
    thumbnail: bool,
) -> StoredFile:
    """The file, if the link or the caller may open it; every opening is audited."""
    caller = None
    if expires is not None and sig is not None:
        if not files.link_is_valid(file_id, expires, sig, thumbnail=thumbnail):
            raise NotFound("link expired or invalid", code="LINK_INVALID")
        stored = await files.find(file_id)
    else:
        caller = await authenticate(request, credentials)
        request.state.principal = caller  # security: names the caller in refusal audit rows
        stored = await files.find_for(caller, file_id)
    await trail.record(  # security: audit trail; a signed link has no named caller
        "file.thumbnail" if thumbnail else "file.download",
        actor=caller,
        object_type="file",
        object_id=file_id,
        conversation_id=stored.conversation_id,
        client=client_of(request),
        detail=None if caller else "signed link",
    )
    return stored


async def _serve(
    request: Request, files: FileService, stored: StoredFile, etag_suffix: str = ""
) -> Response:
    inline = stored.mime_type.split("/")[0] in ("image", "audio", "video")
    disposition = "inline" if inline else "attachment"
    disposition = f"{disposition}; filename*=UTF-8''{quote(str(stored.id))}"
    direct = await files.direct_url(stored, disposition)
    if direct is not None:
        return RedirectResponse(direct, status_code=302, headers={"Cache-Control": "no-store"})
    headers = {
        "Content-Disposition": disposition,
        "Cache-Control": "private, max-age=300",
        "X-Content-Type-Options": "nosniff",
    }
    return await ranged_response(
        request,
        size=stored.size,
        media_type=stored.mime_type,
        etag=f'"{stored.id}{etag_suffix}"',  # a file's bytes never change under its id
        headers=headers,
        open_content=lambda wanted: files.content(stored, wanted),
    )


async def _chunks(upload: UploadFile) -> AsyncIterator[bytes]:
    while piece := await upload.read(UPLOAD_READ):
        yield piece
