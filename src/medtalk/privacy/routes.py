"""REST for a patient's own data export: GET /api/v1/chat/export (a zip, streamed)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from medtalk.api.audit import AuditDep
from medtalk.api.deps import ClockDep, CurrentUser, ExportDep
from medtalk.core.auth import Role
from medtalk.core.clock import iso_z
from medtalk.core.errors import Forbidden

router = APIRouter(prefix="/api/v1/chat", tags=["privacy"])


@router.get(
    "/export",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/zip": {}}, "description": "a zip archive"}},
)
async def export_my_data(
    caller: CurrentUser, export: ExportDep, clock: ClockDep, audit: AuditDep
) -> StreamingResponse:
    """The calling patient's conversations, messages and files, as one zip."""
    if caller.role is not Role.PATIENT:
        raise Forbidden("the export is for patients' own data")
    await audit.ok("export.patient", object_type="user", object_id=caller.user_id)
    stamp = (iso_z(clock.now()) or "").replace(":", "")[:15]
    return StreamingResponse(
        export.zip_stream(caller.user_id),
        media_type="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="medtalk-export-{stamp}.zip"',
            "Cache-Control": "no-store",
        },
    )
