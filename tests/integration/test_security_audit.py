"""The audit trail: every PHI access of a scripted consultation is recorded, with who, where
and the outcome; refusals too; the ADMIN API; the HMAC chain shows where it was edited."""

from __future__ import annotations

import asyncio

import pytest

from medtalk.audit import AuditTrail
from medtalk.core.clock import Clock
from medtalk.db.engine import Database, create_engine
from world import LiveServer, World

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


async def audit_api(person, **params):  # type: ignore[no-untyped-def]
    return await person.get("/api/v1/admin/audit", params=params)


async def test_every_phi_access_of_a_consultation_is_audited(world: World) -> None:
    patient, doctor = await world.patient(), await world.doctor()
    stranger, admin = await world.patient("Người lạ"), await world.admin()
    secret = "Tôi bị đau ngực khi gắng sức"
    conversation = await patient.opens_conversation_with(doctor)
    sent = await patient.sends(conversation, secret)
    await doctor.conversations()
    await doctor.history(conversation)
    uploaded = await doctor.uploads(conversation, "ket-qua.pdf", PDF + b"CONFIDENTIAL-LAB")
    by_bearer = await patient.get(f"/api/v1/chat/files/{uploaded['fileId']}")
    by_link = await world.http.get(uploaded["fileUrl"])
    assert by_bearer.status_code == by_link.status_code == 200
    socket = await doctor.connects()
    assert (await socket.join(conversation))["joined"]
    ack = await socket.call(
        "send_message", {"conversationId": conversation, "content": "Bạn nên đi khám ngay"}
    )
    await patient.post(f"/api/v1/chat/messages/{ack['messageId']}/read")
    export = await patient.get("/api/v1/chat/export")
    assert export.status_code == 200
    # Refused: a stranger, a missing token, a non-admin on the admin API.
    assert (
        await stranger.get(f"/api/v1/chat/conversations/{conversation}/messages")
    ).status_code == 404
    anonymous = await world.http.get(f"/api/v1/chat/conversations/{conversation}/messages")
    assert anonymous.status_code == 401
    assert (await audit_api(patient)).status_code == 403

    rows = (await audit_api(admin, conversationId=conversation, limit=1000)).json()["entries"]
    seen = {(row["action"], row["userId"], row["outcome"]) for row in rows}
    p, d, s = str(patient.id), str(doctor.id), str(stranger.id)
    expected = {
        ("conversation.create", p, "ok"),
        ("message.send", p, "ok"),
        ("message.history", d, "ok"),
        ("file.upload", d, "ok"),
        ("file.download", p, "ok"),
        ("file.download", None, "ok"),  # the signed link names no caller
        ("conversation.join", d, "ok"),
        ("message.send", d, "ok"),
        ("message.mark_read", p, "ok"),
        ("GET /api/v1/chat/conversations/{conversation_id}/messages", s, "denied"),
        ("GET /api/v1/chat/conversations/{conversation_id}/messages", None, "denied"),
    }
    assert expected <= seen, expected - seen
    send = next(r for r in rows if r["action"] == "message.send" and r["userId"] == p)
    assert send["objectId"] == sent["messageId"] and send["role"] == "PATIENT"
    assert send["clientIp"] == "127.0.0.1" and send["userAgent"].startswith("python-httpx")
    listed = await audit_api(admin, userId=d, action="conversation.list")
    assert listed.json()["entries"], "the doctor's conversation list is audited"
    exports = await audit_api(admin, userId=p, action="export.patient")
    assert exports.json()["entries"]
    refused = await audit_api(admin, userId=p, action="GET /api/v1/admin/audit")
    assert [r["outcome"] for r in refused.json()["entries"]] == ["denied"]
    # No content, no file name, no token anywhere in the trail.
    everything = await world.server.sql("SELECT * FROM audit_log")
    flat = " ".join(str(value) for row in everything for value in row)
    for forbidden in (secret, "ket-qua", "CONFIDENTIAL", "Bạn nên", patient.token[:40]):
        assert forbidden not in flat


async def test_socket_refusals_are_audited(world: World) -> None:
    patient, _doctor, conversation = await world.consultation()
    stranger = await world.patient("Người lạ")
    socket = await stranger.connects()
    ack = await socket.join(conversation)
    assert ack["error"]["code"] == "NOT_FOUND"
    rows = await world.server.audit_rows(actor_id=stranger.id, action="socket.join_conversation")
    assert [(r.outcome, r.detail) for r in rows] == [("denied", "404 NOT_FOUND")]
    assert patient  # the conversation's own patient is untouched


async def test_admin_audit_api_filters_pages_and_checks_input(world: World) -> None:
    patient, _doctor, conversation = await world.consultation()
    admin = await world.admin()
    for i in range(3):
        await patient.sends(conversation, f"tin {i}")
    first = (
        await audit_api(admin, conversationId=conversation, action="message.send", limit=2)
    ).json()
    assert len(first["entries"]) == 2 and first["nextAfterSeq"]
    rest = await audit_api(
        admin, conversationId=conversation, action="message.send", afterSeq=first["nextAfterSeq"]
    )
    assert len(rest.json()["entries"]) == 1
    assert (await audit_api(admin, since="2999-01-01T00:00:00Z")).json()["entries"] == []
    assert (await audit_api(admin, since="not-a-time")).status_code == 422
    assert (await audit_api(admin, limit=0)).status_code == 422
    assert (await audit_api(admin, userId="nope")).status_code == 422


async def _own_trail(server: LiveServer) -> tuple[AuditTrail, Database]:
    db = Database(create_engine(server.settings), serialize_writes=server.settings.is_sqlite)
    return AuditTrail(db, Clock(), server.settings.audit_secret), db


async def test_concurrent_appends_keep_one_unbroken_chain(server: LiveServer) -> None:
    trail, db = await _own_trail(server)
    try:
        seqs = await asyncio.gather(
            *(trail.record("test.concurrent", object_id=i, role="SYSTEM") for i in range(40))
        )
        assert len(set(seqs)) == 40
        result = await trail.verify()
        assert result.ok, result
    finally:
        await db.close()


async def test_a_failed_audit_batch_is_appended_row_by_row_in_order(
    server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The group commit's fallback (db/group_commit.py): a batch transaction that fails as a
    whole loses no row, and the rows keep the order they were recorded in on the chain."""
    trail, db = await _own_trail(server)
    real = trail._append_many
    failures = 0

    async def fails_once(db, entries):  # type: ignore[no-untyped-def]
        nonlocal failures
        if failures == 0 and len(entries) > 1:
            failures += 1
            raise RuntimeError("deadlock detected")  # after nothing was written: rolled back
        return await real(db, entries)

    monkeypatch.setattr(trail, "_append_many", fails_once)
    try:
        seqs = await asyncio.gather(
            *(trail.record("test.fallback", object_id=i, role="SYSTEM") for i in range(20))
        )
        assert failures == 1
        assert seqs == sorted(seqs) and len(set(seqs)) == 20  # each its own row, in order
        rows = await trail.query(action="test.fallback", after_seq=seqs[0] - 1)
        assert [row.object_id for row in rows] == [str(i) for i in range(20)]
        assert (await trail.verify()).ok
    finally:
        await db.close()


def _disable_guard(backend: str) -> list[str]:
    if backend == "postgresql":
        return ["ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update"]
    return ["DROP TRIGGER audit_log_no_update", "DROP TRIGGER audit_log_no_delete"]


def _enable_guard(backend: str) -> list[str]:
    if backend == "postgresql":
        return ["ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_update"]
    return [
        "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
        "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
        "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
        "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
    ]


async def test_the_log_refuses_updates_and_deletes(world: World) -> None:
    await world.patient()
    with pytest.raises(Exception, match="append-only"):
        await world.server.execute("UPDATE audit_log SET outcome = 'ok'")
    with pytest.raises(Exception, match="append-only"):
        await world.server.execute("DELETE FROM audit_log")


async def test_an_edited_row_breaks_the_chain_and_verify_names_it(world: World) -> None:
    """An attacker with SQL access lifts the append-only guard and rewrites one row."""
    server = world.server
    patient, _doctor, conversation = await world.consultation()
    await patient.sends(conversation, "một")
    await patient.sends(conversation, "hai")
    rows = await server.audit_rows(actor_id=patient.id, action="message.send")
    victim = rows[0]
    assert (await server.cli("audit", "verify")).exit_code == 0
    guard = _disable_guard(server.backend)
    try:
        await server.execute(
            *guard, "UPDATE audit_log SET actor_id = NULL WHERE seq = :seq", seq=victim.seq
        )
        broken = await server.cli("audit", "verify")
        assert broken.exit_code == 1
        assert f"BROKEN at row {victim.seq}" in broken.output
        # Put it back: the chain is whole again (the HMAC really covers that column).
        await server.execute(
            "UPDATE audit_log SET actor_id = :actor WHERE seq = :seq",
            actor=server.db_uuid(patient.id),
            seq=victim.seq,
        )
        assert (await server.cli("audit", "verify")).exit_code == 0
    finally:
        await server.execute(*_enable_guard(server.backend))


async def test_a_deleted_row_is_found(server: LiveServer) -> None:
    """Deleting a row shows up as a gap at its seq; putting it back makes the chain whole."""
    trail, db = await _own_trail(server)
    try:
        seq = await trail.record("test.delete-me", role="SYSTEM")
        await trail.record("test.after", role="SYSTEM")
        (saved,) = await server.sql("SELECT * FROM audit_log WHERE seq = :s", s=seq)
        await server.execute(
            *_disable_guard(server.backend), "DELETE FROM audit_log WHERE seq = :s", s=seq
        )
        result = await trail.verify()
        assert result.broken_at == seq and "missing" in (result.reason or "")
        columns = list(saved._mapping)
        await server.execute(
            f"INSERT INTO audit_log ({', '.join(columns)}) "
            f"VALUES ({', '.join(':' + c for c in columns)})",
            **dict(saved._mapping),
        )
        assert (await trail.verify()).ok
    finally:
        await server.execute(*_enable_guard(server.backend))
        await db.close()


async def test_audit_export_as_csv_and_json_lines(world: World, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import csv
    import json

    patient, _doctor, conversation = await world.consultation()
    await patient.sends(conversation, "xuất nhật ký")
    server = world.server
    jsonl = await server.cli("audit", "export", "--format", "jsonl", "--user", str(patient.id))
    assert jsonl.exit_code == 0, jsonl.output
    rows = [json.loads(line) for line in jsonl.stdout.splitlines() if line.startswith("{")]
    assert {row["userId"] for row in rows} == {str(patient.id)}
    assert "message.send" in {row["action"] for row in rows}
    out = tmp_path / "audit.csv"
    since = rows[-1]["at"]
    done = await server.cli("audit", "export", "--format", "csv", "--since", since,
                            "--output", str(out))  # fmt: skip
    assert done.exit_code == 0, done.output
    with out.open(encoding="utf-8") as handle:
        exported = list(csv.DictReader(handle))
    assert exported and all(row["at"] >= since for row in exported)
    assert rows[-1]["hash"] in {row["hash"] for row in exported}
    bad = await server.cli("audit", "export", "--since", "yesterday")
    assert bad.exit_code != 0
