"""The operator's door (the CLI) leaves the same audit row as the REST door for the same
access: the FHIR export and the patient's data export are audited by their services."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from world import World


def shape(row: Any) -> tuple[Any, ...]:
    """What a row says, minus who, from where and when."""
    return (row.action, row.object_type, row.object_id, row.conversation_id, row.outcome,
            row.detail)  # fmt: skip


async def test_fhir_export_leaves_the_same_trail_by_rest_and_by_cli(
    world: World, tmp_path: Path
) -> None:
    _patient, doctor, conversation = await world.consultation("Tôi bị ho ba ngày")
    by_rest = await doctor.get(f"/api/v1/chat/conversations/{conversation}/fhir")
    assert by_rest.status_code == 200, by_rest.text
    out = str(tmp_path / "bundle.json")
    by_cli = await world.server.cli("export", "--fhir", conversation, "--output", out)
    assert by_cli.exit_code == 0, by_cli.output
    rest, cli = await world.server.audit_rows(
        action="conversation.fhir_export", conversation_id=conversation
    )
    assert shape(rest) == shape(cli)
    assert rest.detail.endswith(" resources")
    assert (rest.role, rest.client_ip) == ("DOCTOR", "127.0.0.1")
    assert (cli.role, cli.actor_id) == ("OPERATOR", None)


async def test_patient_export_leaves_the_same_trail_by_rest_and_by_cli(
    world: World, tmp_path: Path
) -> None:
    patient, _doctor, _conversation = await world.consultation("Dữ liệu của tôi")
    assert (await patient.get("/api/v1/chat/export")).status_code == 200
    out = str(tmp_path / "export.zip")
    by_cli = await world.server.cli("export", "--user", str(patient.id), "--output", out)
    assert by_cli.exit_code == 0, by_cli.output
    rest, cli = await world.server.audit_rows(action="export.patient", object_id=str(patient.id))
    assert shape(rest) == shape(cli)
    assert (rest.role, cli.role) == ("PATIENT", "OPERATOR")
