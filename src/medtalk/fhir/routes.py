"""REST for the FHIR export: GET /api/v1/chat/conversations/{id}/fhir."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from medtalk.api.deps import AuditTrailDep, ChatDep, ClockDep, Context, DatabaseDep, SettingsDep
from medtalk.fhir.bundle import FHIR_VERSION, MEDIA_TYPE
from medtalk.fhir.service import FhirExport

router = APIRouter(prefix="/api/v1/chat", tags=["fhir"])


class FhirResponse(JSONResponse):
    media_type = MEDIA_TYPE


@router.get(
    "/conversations/{conversation_id}/fhir",
    response_class=FhirResponse,
    responses={
        200: {
            "description": f"A FHIR {FHIR_VERSION} Bundle (type collection)",
            "content": {MEDIA_TYPE: {"schema": {"type": "object"}}},
        }
    },
)
async def export_fhir(
    conversation_id: uuid.UUID,
    request: Request,
    context: Context,
    settings: SettingsDep,
    db: DatabaseDep,
    chat: ChatDep,
    clock: ClockDep,
    trail: AuditTrailDep,
) -> FhirResponse:
    """The conversation as a FHIR R4 Bundle: Communication per message (attachments with
    URLs), Encounter per video call. Its two participants and ADMIN only; audited."""
    base_url = settings.public_url or str(request.base_url)
    bundle = await FhirExport(db, chat, clock, trail).bundle(context, conversation_id, base_url)
    headers = {"Cache-Control": "no-store", "Content-Disposition": "inline"}
    return FhirResponse(bundle, headers=headers)
