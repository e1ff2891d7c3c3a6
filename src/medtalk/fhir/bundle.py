"""FHIR R4 (4.0.1) resources from a conversation, as plain JSON-ready dicts.

A `collection` Bundle: the patient (Patient), the doctor (Practitioner), one Encounter per
video call (class VR, virtual; period and length), one Communication per message (text as
contentString, files as contentAttachment with a URL), each linked to the call it was sent
during. Every resource keeps medtalk's UUID as its id and is addressed as `urn:uuid:<id>`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from medtalk.chat.schemas import ContentType, Message
from medtalk.core.clock import iso_z
from medtalk.fhir.store import CallRow, FileRow, Person

JSON = dict[str, Any]

FHIR_VERSION = "4.0.1"
MEDIA_TYPE = "application/fhir+json"
UUID_SYSTEM = "urn:ietf:rfc:3986"  # identifiers whose value is a urn:uuid
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
UCUM = "http://unitsofmeasure.org"

ENCOUNTER_STATUS = {
    "WAITING": "planned",
    "IN_PROGRESS": "in-progress",
    "ENDED": "finished",
    "CANCELLED": "cancelled",
}


@dataclass(frozen=True)
class Consultation:
    """Everything one Bundle is made of, already read and decrypted."""

    conversation_id: uuid.UUID
    patient: Person
    doctor: Person
    messages: Sequence[Message]
    files: dict[uuid.UUID, FileRow]
    calls: Sequence[CallRow]
    base_url: str  # where attachment URLs point (a bearer token opens them)


def build_bundle(consultation: Consultation, bundle_id: uuid.UUID, now: datetime) -> JSON:
    resources = [
        _person("Patient", consultation.patient),
        _person("Practitioner", consultation.doctor),
        *(_encounter(consultation, call) for call in consultation.calls),
        *(
            _communication(consultation, message)
            for message in consultation.messages
            # A call's own message (missed, ended) is its Encounter, not a Communication.
            if message.content_type is not ContentType.CALL
        ),
    ]
    return {
        "resourceType": "Bundle",
        "id": str(bundle_id),
        "meta": {"lastUpdated": iso_z(now)},
        "identifier": _identifier(consultation.conversation_id),
        "type": "collection",
        "timestamp": iso_z(now),
        "entry": [{"fullUrl": _urn(r["id"]), "resource": r} for r in resources],
    }


def _urn(resource_id: object) -> str:
    return f"urn:uuid:{resource_id}"


def _identifier(object_id: uuid.UUID) -> JSON:
    return {"system": UUID_SYSTEM, "value": _urn(object_id)}


def _reference(person: Person) -> JSON:
    return {"reference": _urn(person.id), "display": person.name}


def _person(resource_type: str, person: Person) -> JSON:
    return {
        "resourceType": resource_type,
        "id": str(person.id),
        "identifier": [_identifier(person.id)],
        "name": [{"text": person.name}],
    }


def _encounter(consultation: Consultation, call: CallRow) -> JSON:
    encounter: JSON = {
        "resourceType": "Encounter",
        "id": str(call.id),
        "identifier": [_identifier(call.id)],
        "status": ENCOUNTER_STATUS.get(call.status, "unknown"),
        "class": {"system": ACT_CODE, "code": "VR", "display": "virtual"},
        "subject": _reference(consultation.patient),
        "participant": [{"individual": _reference(consultation.doctor)}],
    }
    period = {
        key: iso_z(moment)
        for key, moment in (("start", call.started_at), ("end", call.ended_at))
        if moment is not None
    }
    if period:
        encounter["period"] = period
    if call.duration is not None:
        encounter["length"] = {"value": call.duration, "unit": "s", "system": UCUM, "code": "s"}
    return encounter


def _communication(consultation: Consultation, message: Message) -> JSON:
    patient, doctor = consultation.patient, consultation.doctor
    sender, recipient = (patient, doctor) if message.sender_id == patient.id else (doctor, patient)
    communication: JSON = {
        "resourceType": "Communication",
        "id": str(message.id),
        "identifier": [_identifier(message.id)],
        "status": "completed",
        "subject": _reference(patient),
        "sent": iso_z(message.sent_at),
        "sender": _reference(sender),
        "recipient": [_reference(recipient)],
    }
    call = _call_during(consultation.calls, message.sent_at)
    if call is not None:
        communication["encounter"] = {"reference": _urn(call.id)}
    if message.is_read and message.read_at is not None:
        communication["received"] = iso_z(message.read_at)
    if message.unreadable:
        # The stored text failed authentication: say so rather than export an empty string.
        communication["note"] = [{"text": "content unreadable (failed decryption)"}]
    elif message.file_id is not None:
        communication["payload"] = [{"contentAttachment": _attachment(consultation, message)}]
    elif message.content:
        communication["payload"] = [{"contentString": message.content}]
    return communication


def _attachment(consultation: Consultation, message: Message) -> JSON:
    assert message.file_id is not None
    stored = consultation.files.get(message.file_id)
    attachment: JSON = {"title": message.file_name or str(message.file_id)}
    if stored is None:
        return attachment  # purged: the title alone says what was sent
    attachment |= {"contentType": stored.mime_type, "size": stored.size}
    attachment["creation"] = iso_z(stored.created_at)
    if stored.status == "CLEAN":  # quarantined or unscanned files get no link
        attachment["url"] = f"{consultation.base_url}/api/v1/chat/files/{stored.id}"
    return attachment


def _call_during(calls: Iterable[CallRow], moment: datetime) -> CallRow | None:
    for call in calls:
        started, ended = call.started_at, call.ended_at
        if started is not None and started <= moment and (ended is None or moment <= ended):
            return call
    return None
