"""REST for a patient's own data export: GET /api/v1/chat/export (a zip, streamed)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from medtalk.api.deps import ClockDep, Context, ExportDep
from medtalk.core.clock import iso_z

router = APIRouter(prefix="/api/v1/chat", tags=["privacy"])


@router.get(
    "/export",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/zip": {}}, "description": "a zip archive"}},
)
async def export_my_data(context: Context, export: ExportDep, clock: ClockDep) -> StreamingResponse:
    """The calling patient's conversations, messages and files, as one zip."""
    stream = await export.of_patient(context)
    stamp = (iso_z(clock.now()) or "").replace(":", "")[:15]
    return StreamingResponse(
        stream,
        media_type="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="medtalk-export-{stamp}.zip"',
            "Cache-Control": "no-store",
        },
    )
