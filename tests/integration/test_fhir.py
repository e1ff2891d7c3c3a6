"""FHIR R4 export of a real consultation (messages, a file, a video call), validated with the
`fhir.resources` models; participants and ADMIN only, audited; the operator's CLI twin."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle

from world import World

pytestmark = pytest.mark.parametrize("server", ["sqlite", "postgresql"], indirect=True)

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def resources(bundle: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


async def a_consultation_with_a_file_and_a_call(world: World) -> tuple[Any, Any, str, dict]:  # type: ignore[type-arg]
    patient, doctor, conversation = await world.consultation("Tôi bị sốt từ hôm qua")
    await doctor.sends(conversation, "Bạn uống paracetamol 500mg")
    uploaded = await patient.uploads(conversation, "ket-qua-xet-nghiem.pdf", PDF)
    room = await doctor.creates_room(conversation)
    await doctor.joins_room(room["roomId"])
    await patient.joins_room(room["roomId"])
    ended = await doctor.ends_call(room["roomId"])
    return patient, doctor, conversation, {"uploaded": uploaded, "room": room, "ended": ended}


async def test_a_consultation_exports_as_a_valid_r4_bundle(world: World) -> None:
    patient, doctor, conversation, made = await a_consultation_with_a_file_and_a_call(world)
    response = await doctor.get(f"/api/v1/chat/conversations/{conversation}/fhir")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/fhir+json")
    body = response.json()
    Bundle.model_validate(body)  # raises on anything FHIR does not allow
    assert body["type"] == "collection"

    (patient_resource,) = resources(body, "Patient")
    (practitioner,) = resources(body, "Practitioner")
    assert patient_resource["name"] == [{"text": patient.name}]
    assert practitioner["name"] == [{"text": doctor.name}]

    communications = resources(body, "Communication")
    assert [c.get("payload", [{}])[0].get("contentString") for c in communications] == [
        "Tôi bị sốt từ hôm qua",
        "Bạn uống paracetamol 500mg",
        None,
    ]
    first, second, with_file = communications
    assert first["sender"]["reference"] == f"urn:uuid:{patient.id}"
    assert first["recipient"] == [{"reference": f"urn:uuid:{doctor.id}", "display": doctor.name}]
    assert second["sender"]["display"] == doctor.name
    attachment = with_file["payload"][0]["contentAttachment"]
    assert attachment["title"] == "ket-qua-xet-nghiem.pdf"
    assert attachment["contentType"] == "application/pdf" and attachment["size"] == len(PDF)
    # The URL is the stable download address: a participant's bearer token opens it.
    assert attachment["url"].endswith(f"/api/v1/chat/files/{made['uploaded']['fileId']}")
    path = attachment["url"][attachment["url"].index("/api/") :]
    assert (await doctor.get(path)).content == PDF

    (encounter,) = resources(body, "Encounter")
    assert encounter["status"] == "finished" and encounter["class"]["code"] == "VR"
    assert encounter["subject"]["reference"] == f"urn:uuid:{patient.id}"
    rows = await world.server.sql(
        "SELECT duration FROM video_call_rooms WHERE room_name = :name",
        name=made["room"]["roomName"],
    )
    assert encounter["length"] == {
        "value": rows[0][0],
        "unit": "s",
        "system": "http://unitsofmeasure.org",
        "code": "s",
    }
    assert encounter["period"]["start"] <= encounter["period"]["end"]
    # Every reference points inside the Bundle.
    full_urls = {entry["fullUrl"] for entry in body["entry"]}
    for reference in _references(body):
        assert reference in full_urls, reference


def _references(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["reference"]] if isinstance(node.get("reference"), str) else []
        return found + [ref for value in node.values() for ref in _references(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in _references(value)]
    return []


async def test_only_participants_and_admin_export_and_each_export_is_audited(
    world: World,
) -> None:
    patient, _doctor, conversation = await world.consultation("Xin chào")
    stranger = await world.doctor("BS. Người Lạ")
    path = f"/api/v1/chat/conversations/{conversation}/fhir"
    assert (await stranger.get(path)).status_code == 404
    assert (await world.http.get(path)).status_code == 401
    assert (await patient.get(path)).status_code == 200
    admin = await world.admin()
    by_admin = await admin.get(path)
    assert by_admin.status_code == 200
    Bundle.model_validate(by_admin.json())
    rows = await world.server.audit_rows(
        action="conversation.fhir_export", conversation_id=conversation
    )
    assert [(row.role, row.outcome) for row in rows] == [("PATIENT", "ok"), ("ADMIN", "ok")]
    assert (await patient.get("/api/v1/chat/conversations/not-a-uuid/fhir")).status_code == 422


async def test_operator_writes_the_bundle_with_the_cli(world: World, tmp_path: Path) -> None:
    _patient, _doctor, conversation, _ = await a_consultation_with_a_file_and_a_call(world)
    out = tmp_path / "bundle.json"
    result = await world.server.cli("export", "--fhir", conversation, "--output", str(out))
    assert result.exit_code == 0, result.output
    body = json.loads(out.read_text(encoding="utf-8"))
    Bundle.model_validate(body)
    assert len(resources(body, "Communication")) == 3 and len(resources(body, "Encounter")) == 1
    rows = await world.server.audit_rows(
        action="conversation.fhir_export", conversation_id=conversation
    )
    assert [row.role for row in rows] == ["OPERATOR"]
    missing = await world.server.cli(
        "export", "--fhir", "00000000-0000-0000-0000-000000000000", "--output", str(out)
    )
    assert missing.exit_code == 1
    both = await world.server.cli(
        "export", "--fhir", conversation, "--user", conversation, "--output", str(out)
    )
    assert both.exit_code != 0
