"""Files, FHIR export, patient export, legal hold and sessions write their audit rows in the
service, not at the HTTP edge: driven here without HTTP, each leaves its row, and the
operator's door (the CLI's `None` context) leaves the same row as a participant's."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

from clinic import Clinic, Person

from medtalk.audit import Client, RequestContext
from medtalk.chat.schemas import ContentType
from medtalk.core.auth import Role
from medtalk.fhir.service import FhirExport
from medtalk.legalhold.service import LegalHolds
from medtalk.sessions.service import Sessions

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
AT_THE_DESK = Client(ip="10.0.0.7", user_agent="clinic-desk/1.0")


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data


def shape(row: Any) -> tuple[Any, ...]:
    """What a row says, minus who, from where and when."""
    return (row.action, row.object_type, row.object_id, row.conversation_id, row.outcome,
            row.detail)  # fmt: skip


def at_the_desk(person: Person) -> RequestContext:
    return RequestContext(person.principal, AT_THE_DESK)


async def test_uploads_and_openings_are_audited_by_the_file_service(clinic: Clinic) -> None:
    patient, doctor = await clinic.patient(), await clinic.doctor()
    conversation = await patient.opens_conversation_with(doctor)
    files = clinic.services.files
    uploaded = await files.upload(
        at_the_desk(patient), conversation.conversation_id, "xet-nghiem.pdf", ContentType.FILE,
        _once(PDF),
    )  # fmt: skip
    (upload,) = await clinic.audit("file.upload")
    assert (upload.actor_id, upload.role, upload.client_ip) == (patient.id, "PATIENT", "10.0.0.7")
    detail = f"application/pdf {len(PDF)} bytes"
    assert shape(upload) == (
        "file.upload", "file", str(uploaded.file_id), conversation.conversation_id, "ok", detail,
    )  # fmt: skip
    assert "xet-nghiem" not in str(upload)  # never the file name

    downloads = clinic.services.file_downloads
    await downloads.open_for(at_the_desk(doctor), uploaded.file_id)
    query = parse_qs(urlsplit(uploaded.file_url).query)
    await downloads.open_by_link(
        uploaded.file_id, int(query["expires"][0]), query["sig"][0], AT_THE_DESK, thumbnail=False
    )
    by_bearer, by_link = await clinic.audit("file.download")
    assert (by_bearer.actor_id, by_bearer.role, by_bearer.detail) == (doctor.id, "DOCTOR", None)
    assert (by_link.actor_id, by_link.role, by_link.detail) == (None, None, "signed link")
    assert by_link.object_id == by_bearer.object_id == str(uploaded.file_id)
    assert by_link.user_agent == "clinic-desk/1.0"


async def test_a_fhir_export_leaves_one_row_whichever_door_asked(clinic: Clinic) -> None:
    patient, doctor = await clinic.patient(), await clinic.doctor()
    conversation = await patient.opens_conversation_with(doctor, "Tôi bị ho")
    services = clinic.services
    export = FhirExport(services.db, services.chat, services.clock, services.audit)
    id_ = conversation.conversation_id
    await export.bundle(at_the_desk(doctor), id_, "https://chat.example")
    await export.bundle(None, id_, "https://chat.example")  # `medtalk export --fhir`
    by_doctor, by_operator = await clinic.audit("conversation.fhir_export")
    assert shape(by_doctor) == shape(by_operator)
    assert (by_doctor.role, by_doctor.client_ip) == ("DOCTOR", "10.0.0.7")
    assert (by_operator.role, by_operator.actor_id) == ("OPERATOR", None)


async def test_a_patient_export_leaves_one_row_whichever_door_asked(clinic: Clinic) -> None:
    patient, doctor = await clinic.patient(), await clinic.doctor()
    await patient.opens_conversation_with(doctor, "Xin chào")
    export = clinic.services.export
    by_patient = b"".join([piece async for piece in await export.of_patient(patient.context)])
    by_operator = b"".join([piece async for piece in await export.for_operator(patient.id)])
    assert by_patient[:2] == by_operator[:2] == b"PK"
    patient_row, operator_row = await clinic.audit("export.patient")
    assert shape(patient_row) == shape(operator_row)
    assert (patient_row.role, operator_row.role) == ("PATIENT", "OPERATOR")


async def test_legal_holds_are_audited_by_their_service(clinic: Clinic) -> None:
    patient, doctor = await clinic.patient(), await clinic.doctor()
    admin = await clinic.person("Quản trị viên", Role.ADMIN)
    conversation = await patient.opens_conversation_with(doctor)
    services = clinic.services
    holds = LegalHolds(services.db, services.clock, services.audit)
    hold, placed = await holds.place(at_the_desk(admin), conversation.conversation_id, "Vụ 17")
    await holds.lift(at_the_desk(admin), conversation.conversation_id)
    rows = await clinic.audit("legal_hold.place") + await clinic.audit("legal_hold.lift")
    assert placed and [(r.action, r.role, r.object_id, r.client_ip) for r in rows] == [
        ("legal_hold.place", "ADMIN", str(hold.id), "10.0.0.7"),
        ("legal_hold.lift", "ADMIN", str(hold.id), "10.0.0.7"),
    ]


async def test_logout_and_revocations_are_audited_by_the_sessions_service(
    clinic: Clinic,
) -> None:
    patient = await clinic.patient()
    admin = await clinic.person("Quản trị viên", Role.ADMIN)
    sessions = Sessions(clinic.services.revocations, clinic.services.audit)
    await sessions.logout(at_the_desk(patient))
    await sessions.revoke_tokens(at_the_desk(admin), patient.id)
    (logout,) = await clinic.audit("auth.logout")
    (revoked,) = await clinic.audit("admin.revoke_tokens")
    assert (logout.actor_id, logout.object_id, logout.client_ip) == (
        patient.id, str(patient.id), "10.0.0.7",
    )  # fmt: skip
    assert (revoked.actor_id, revoked.role, revoked.object_id) == (
        admin.id, "ADMIN", str(patient.id),
    )  # fmt: skip
