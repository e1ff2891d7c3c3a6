"""Legal hold: an ADMIN holds a conversation, retention keeps it (and says so), lifting the
hold lets retention apply again; only ADMIN may do any of it, and every change is audited."""

from __future__ import annotations

import uuid

from medtalk.cli.common import open_container
from medtalk.privacy.retention import purge_expired
from medtalk.search.index import SearchIndex
from world import World

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
POLICY = {"CLOSED": 365}


def hold_path(conversation: str) -> str:
    return f"/api/v1/admin/conversations/{conversation}/legal-hold"


async def closed_long_ago(world: World, conversation: str) -> None:
    await world.server.execute(
        "UPDATE conversations SET status = 'CLOSED', updated_at = '2020-01-01 00:00:00' "
        "WHERE id = :id",
        id=world.server.db_uuid(conversation),
    )


async def test_a_held_conversation_survives_retention_until_the_hold_is_lifted(
    world: World,
) -> None:
    patient, doctor, held = await world.consultation("Hồ sơ đang tranh chấp")
    await doctor.uploads(held, "bien-ban.pdf", PDF)
    other_doctor = await world.doctor("BS. Khác")
    expired = await patient.opens_conversation_with(other_doctor, "Hết hạn lưu trữ")
    await closed_long_ago(world, held)
    await closed_long_ago(world, expired)
    admin = await world.admin()
    placed = await admin.put(hold_path(held), json={"reason": "Vụ việc 2026/17"})
    assert placed.status_code == 201, placed.text

    async with open_container(world.server.settings) as rt:
        dry = await purge_expired(
            rt.db, rt.storage, SearchIndex(rt.keys), rt.clock, rt.audit, POLICY, dry_run=True
        )
        report = await purge_expired(
            rt.db, rt.storage, SearchIndex(rt.keys), rt.clock, rt.audit, POLICY
        )
    for run in (dry, report):
        assert [str(c) for c in run.held] == [held]
        assert [str(c) for c in run.conversations] == [expired]
    assert (await patient.history(expired))["messages"] == []
    kept = (await patient.history(held))["messages"]
    assert [m["content"] for m in kept] == ["bien-ban.pdf", "Hồ sơ đang tranh chấp"]
    assert (await doctor.get(kept[0]["fileUrl"].split("?")[0])).content == PDF
    assert await world.server.audit_rows(conversation_id=held, action="retention.purge") == []

    # The operator's command says so too.
    command = await world.server.cli("retention", "purge", MEDTALK_RETENTION_CLOSED_DAYS="365")
    assert command.exit_code == 0, command.output
    assert "kept 1 expired conversations under legal hold" in command.output

    lifted = await admin.request("DELETE", hold_path(held))
    assert lifted.status_code == 200 and lifted.json()["active"] is False
    async with open_container(world.server.settings) as rt:
        after = await purge_expired(
            rt.db, rt.storage, SearchIndex(rt.keys), rt.clock, rt.audit, POLICY
        )
    assert [str(c) for c in after.conversations] == [held] and after.held == []
    assert (await patient.history(held))["messages"] == []


async def test_only_admin_places_reads_and_lifts_holds(world: World) -> None:
    patient, doctor, conversation = await world.consultation("Xin chào")
    admin = await world.admin()
    body = {"reason": "Yêu cầu của toà án"}
    for person in (patient, doctor, await world.doctor("BS. Người Lạ")):
        assert (await person.put(hold_path(conversation), json=body)).status_code == 403
        assert (await person.get(hold_path(conversation))).status_code == 403
        assert (await person.request("DELETE", hold_path(conversation))).status_code == 403
        assert (await person.get("/api/v1/admin/legal-holds")).status_code == 403
    assert (await world.http.put(hold_path(conversation), json=body)).status_code == 401

    missing = hold_path(str(uuid.uuid4()))
    assert (await admin.put(missing, json=body)).status_code == 404
    assert (await admin.get(missing)).status_code == 404
    assert (await admin.put(hold_path(conversation), json={"reason": " "})).status_code == 422
    assert (await admin.put(hold_path(conversation), json={})).status_code == 422
    not_held = await admin.request("DELETE", hold_path(conversation))
    assert not_held.status_code == 409 and not_held.json()["error"]["code"] == "NOT_HELD"

    first = await admin.put(hold_path(conversation), json=body)
    again = await admin.put(hold_path(conversation), json={"reason": "lần hai"})
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"] and again.json()["reason"] == body["reason"]
    status = (await admin.get(hold_path(conversation))).json()
    assert status["held"] is True and [h["id"] for h in status["holds"]] == [first.json()["id"]]
    listed = (await admin.get("/api/v1/admin/legal-holds")).json()["holds"]
    assert first.json()["id"] in [h["id"] for h in listed]
    assert (await admin.request("DELETE", hold_path(conversation))).status_code == 200
    status = (await admin.get(hold_path(conversation))).json()
    assert status["held"] is False and status["holds"][0]["liftedBy"] == str(admin.id)

    rows = await world.server.audit_rows(conversation_id=conversation)
    changes = [(r.action, r.role) for r in rows if r.action.startswith("legal_hold.")]
    assert changes == [("legal_hold.place", "ADMIN"), ("legal_hold.lift", "ADMIN")]
    # Patients and doctors see nothing of it in their conversation.
    assert "legal" not in str(await patient.conversations()).lower()
