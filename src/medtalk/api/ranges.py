"""HTTP Range requests on downloads (RFC 9110 §14), so audio and video players can seek.

One byte range per request (what players ask for); several ranges, other units or a malformed
header get the whole object, as the RFC allows. A range past the end is a 416.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from medtalk.api.errors import error_body
from medtalk.core import metrics
from medtalk.files.storage import ByteRange

# At most 19 digits: a byte offset fits in 64 bits, and int() of a huge string is refused.
_SINGLE_RANGE = re.compile(r"bytes=(\d{0,19})-(\d{0,19})")

# For the routes' OpenAPI: what a Range request may answer besides 200.
RANGE_RESPONSES: dict[int | str, dict[str, Any]] = {
    206: {"description": "The asked byte range (Range header); Content-Range says which"},
    416: {"description": "The Range starts past the end (RANGE_NOT_SATISFIABLE)"},
}

Opener = Callable[[ByteRange | None], Awaitable[AsyncIterator[bytes]]]


class RangeNotSatisfiable(Exception):
    """The asked range starts past the end of the object."""


def requested_range(header: str | None, size: int) -> ByteRange | None:
    """The single byte range asked for, or None for the whole object."""
    match = _SINGLE_RANGE.fullmatch((header or "").strip())
    if match is None:
        return None
    first, last = match.groups()
    if not first:
        if not last:
            return None
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise RangeNotSatisfiable
        return ByteRange(max(size - suffix, 0), size - 1)
    start = int(first)
    if last and int(last) < start:
        return None  # malformed: ignored
    if start >= size:
        raise RangeNotSatisfiable
    return ByteRange(start, min(int(last), size - 1) if last else size - 1)


async def ranged_response(
    request: Request,
    *,
    size: int,
    media_type: str,
    etag: str,
    headers: dict[str, str],
    open_content: Opener,
) -> Response:
    """200 with the whole object, 206 with the asked range, or 416 (with the object's size)."""
    common = headers | {"Accept-Ranges": "bytes", "ETag": etag}
    if_range = request.headers.get("if-range")
    try:
        wanted = (
            requested_range(request.headers.get("range"), size)
            if if_range is None or if_range == etag
            else None
        )
    except RangeNotSatisfiable:
        metrics.error("http", "RANGE_NOT_SATISFIABLE")
        body = error_body("RANGE_NOT_SATISFIABLE", f"the range lies outside the {size} bytes")
        return JSONResponse(body, 416, headers=common | {"Content-Range": f"bytes */{size}"})
    content = await open_content(wanted)
    if wanted is None:
        common["Content-Length"] = str(size)
        return StreamingResponse(content, media_type=media_type, headers=common)
    common["Content-Length"] = str(wanted.length)
    common["Content-Range"] = f"bytes {wanted.start}-{wanted.end}/{size}"
    return StreamingResponse(content, 206, media_type=media_type, headers=common)
