"""REST for files: the spec's upload endpoint and the download behind `fileUrl`."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse, Response, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials

from medtalk.api.deps import (
    BearerCredentials,
    Context,
    FileDownloadsDep,
    FilesDep,
    authenticate,
    client_of,
)
from medtalk.api.ranges import RANGE_RESPONSES, ranged_response
from medtalk.audit import RequestContext
from medtalk.chat.schemas import ContentType
from medtalk.files.downloads import FileDownloads
from medtalk.files.service import FileUploaded
from medtalk.files.store import StoredFile

router = APIRouter(prefix="/api/v1/chat", tags=["files"])

UPLOAD_READ = 256 * 1024


@router.post("/messages/upload", status_code=201, response_model=FileUploaded)
async def upload_file(
    context: Context,
    files: FilesDep,
    conversation_id: Annotated[uuid.UUID, Form(alias="conversationId")],
    file: Annotated[UploadFile, File()],
    file_type: Annotated[ContentType | None, Form(alias="fileType")] = None,
) -> FileUploaded:
    """Type from the bytes, per-type size limits; images lose their metadata.

    Oversized bodies never get here: app.py refuses them by Content-Length, or once the
    streamed body passes the largest limit. The multipart parser spools the file to a
    temporary file (1 MB in memory), which is read here in pieces.
    """
    return await files.upload(context, conversation_id, file.filename, file_type, _chunks(file))


@router.get("/files/{file_id}", response_class=StreamingResponse, responses=RANGE_RESPONSES)
async def download_file(
    file_id: uuid.UUID,
    request: Request,
    downloads: FileDownloadsDep,
    credentials: BearerCredentials,
    expires: int | None = None,
    sig: str | None = None,
) -> Response:
    """A participant's bearer token, or a valid unexpired signed link, opens a CLEAN file."""
    stored = await _authorized(
        request, downloads, credentials, file_id, expires, sig, thumbnail=False
    )
    return await _serve(request, downloads, stored)


@router.get(
    "/files/{file_id}/thumbnail", response_class=StreamingResponse, responses=RANGE_RESPONSES
)
async def download_thumbnail(
    file_id: uuid.UUID,
    request: Request,
    downloads: FileDownloadsDep,
    credentials: BearerCredentials,
    expires: int | None = None,
    sig: str | None = None,
) -> Response:
    """The image's JPEG thumbnail, on the same terms as the file itself."""
    stored = await _authorized(
        request, downloads, credentials, file_id, expires, sig, thumbnail=True
    )
    return await _serve(request, downloads, stored.thumbnail(), etag_suffix="-thumbnail")


async def _authorized(
    request: Request,
    downloads: FileDownloads,
    credentials: HTTPAuthorizationCredentials | None,
    file_id: uuid.UUID,
    expires: int | None,
    sig: str | None,
    *,
    thumbnail: bool,
) -> StoredFile:
    """The file, if the link or the caller may open it (the service audits each opening)."""
    if expires is not None and sig is not None:
        return await downloads.open_by_link(
            file_id, expires, sig, client_of(request), thumbnail=thumbnail
        )
    caller = await authenticate(request, credentials)
    request.state.principal = caller  # security: names the caller in refusal audit rows
    context = RequestContext(caller, client_of(request))
    return await downloads.open_for(context, file_id, thumbnail=thumbnail)


async def _serve(
    request: Request, downloads: FileDownloads, stored: StoredFile, etag_suffix: str = ""
) -> Response:
    inline = stored.mime_type.split("/")[0] in ("image", "audio", "video")
    disposition = "inline" if inline else "attachment"
    disposition = f"{disposition}; filename*=UTF-8''{quote(str(stored.id))}"
    direct = await downloads.direct_url(stored, disposition)
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
        open_content=lambda wanted: downloads.content(stored, wanted),
    )


async def _chunks(upload: UploadFile) -> AsyncIterator[bytes]:
    while piece := await upload.read(UPLOAD_READ):
        yield piece
