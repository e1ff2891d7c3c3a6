"""REST for the FHIR export: GET /api/v1/chat/conversations/{id}/fhir."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from medtalk.api.audit import AuditDep
from medtalk.api.deps import ChatDep, ClockDep, CurrentUser, DatabaseDep, SettingsDep
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
    caller: CurrentUser,
    settings: SettingsDep,
    db: DatabaseDep,
    chat: ChatDep,
    clock: ClockDep,
    audit: AuditDep,
) -> FhirResponse:
    """The conversation as a FHIR R4 Bundle: Communication per message (attachments with
    URLs), Encounter per video call. Its two participants and ADMIN only; audited."""
    base_url = settings.public_url or str(request.base_url)
    bundle = await FhirExport(db, chat, clock).bundle(caller, conversation_id, base_url)
    await audit.ok(  # security: audit trail (ids and counts only)
        "conversation.fhir_export",
        object_type="conversation",
        object_id=conversation_id,
        conversation_id=conversation_id,
        detail=f"{len(bundle['entry'])} resources",
    )
    headers = {"Cache-Control": "no-store", "Content-Disposition": "inline"}
    return FhirResponse(bundle, headers=headers)
