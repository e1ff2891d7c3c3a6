"""Privacy: retention purges what is past its time (and audits it); a patient exports their
own data as a zip, over REST or by an operator's command."""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from datetime import UTC, datetime, timedelta

from medtalk.cli.common import open_container
from medtalk.jobs.kinds.archive import Archiver
from medtalk.privacy.retention import purge_expired
from medtalk.search import blind
from medtalk.search.index import SearchIndex
from world import World

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


async def age(world: World, conversation: str, status: str, days: int) -> None:
    """Close (or archive) a conversation and make its last activity `days` old."""
    then = (datetime.now(UTC) - timedelta(days=days)).replace(tzinfo=None)
    await world.server.execute(
        "UPDATE conversations SET status = :s, last_message_at = :t, updated_at = :t "
        "WHERE id = :id",
        s=status,
        t=then,
        id=world.server.db_uuid(conversation),
    )


async def test_retention_purges_expired_conversations_only(world: World) -> None:
    patient, doctor = await world.patient(), await world.doctor()
    doctors = [await world.doctor(f"BS. {i}") for i in range(3)]
    old_closed = await patient.opens_conversation_with(doctor, "cũ và đã đóng")
    await doctor.uploads(old_closed, "x.pdf", PDF)
    young_closed = await patient.opens_conversation_with(doctors[0], "mới đóng")
    old_archived = await patient.opens_conversation_with(doctors[1], "lưu trữ lâu")
    active = await patient.opens_conversation_with(doctors[2], "đang mở")
    await age(world, old_closed, "CLOSED", 400)
    await age(world, young_closed, "CLOSED", 10)
    await age(world, old_archived, "ARCHIVED", 400)
    await age(world, active, "ACTIVE", 4000)
    policy = {"CLOSED": 365, "ARCHIVED": 0}  # archived: keep forever
    settings = world.server.settings
    async with open_container(settings) as rt:
        dry = await purge_expired(
            rt.db, rt.storage, SearchIndex(rt.keys), rt.clock, rt.audit, policy, dry_run=True
        )
        assert [str(c) for c in dry.conversations] == [old_closed]
        assert (dry.messages, dry.files) == (2, 1)
        assert len((await patient.history(old_closed))["messages"]) == 2  # dry run kept it
        done = await purge_expired(
            rt.db, rt.storage, SearchIndex(rt.keys), rt.clock, rt.audit, policy
        )
        assert (done.messages, done.files) == (2, 1)
        again = await purge_expired(
            rt.db, rt.storage, SearchIndex(rt.keys), rt.clock, rt.audit, policy
        )
        assert again.conversations == []
    assert (await patient.history(old_closed))["messages"] == []
    for kept in (young_closed, old_archived, active):
        assert len((await patient.history(kept))["messages"]) == 1
    files = await world.server.sql(
        "SELECT id FROM chat_files WHERE conversation_id = :c", c=world.server.db_uuid(old_closed)
    )
    assert files == []
    rows = await world.server.audit_rows(conversation_id=old_closed, action="retention.purge")
    assert [(r.role, r.detail) for r in rows] == [("SYSTEM", "2 messages, 1 files")]


async def test_retention_purge_command(world: World) -> None:
    patient, doctor = await world.patient(), await world.doctor()
    conversation = await patient.opens_conversation_with(doctor, "sẽ bị xoá")
    await age(world, conversation, "ARCHIVED", 40)
    dry = await world.server.cli(
        "retention", "purge", "--dry-run", MEDTALK_RETENTION_ARCHIVED_DAYS="30"
    )
    assert dry.exit_code == 0 and "would purge" in dry.output
    assert len((await patient.history(conversation))["messages"]) == 1
    done = await world.server.cli("retention", "purge", MEDTALK_RETENTION_ARCHIVED_DAYS="30")
    assert done.exit_code == 0, done.output
    assert (await patient.history(conversation))["messages"] == []


def read_zip(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        return {name: archive.read(name) for name in archive.namelist()}


async def test_a_patient_exports_their_own_data(world: World) -> None:
    patient, doctor, conversation = await world.consultation("Xin chào bác sĩ")
    await doctor.sends(conversation, "Bạn nên uống thuốc sau bữa ăn")
    uploaded = await doctor.uploads(conversation, "don-thuoc.pdf", PDF + b"RX")
    # Someone else's conversation with the same doctor must not leak into the export.
    other = await world.patient("Bệnh nhân khác")
    theirs = await other.opens_conversation_with(doctor, "BÍ-MẬT-CỦA-NGƯỜI-KHÁC")
    response = await patient.get("/api/v1/chat/export")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/zip"
    files = read_zip(response.content)
    summary = json.loads(files["conversations.json"])
    assert [c["id"] for c in summary["conversations"]] == [conversation]
    lines = files[f"conversations/{conversation}/messages.jsonl"].decode().splitlines()
    contents = [json.loads(line)["content"] for line in lines]
    assert contents == ["Xin chào bác sĩ", "Bạn nên uống thuốc sau bữa ăn", "don-thuoc.pdf"]
    name = f"conversations/{conversation}/files/{uploaded['fileId']}-don-thuoc.pdf"
    assert files[name] == PDF + b"RX"
    everything = b"".join(files.values()) + str(list(files)).encode()
    assert "BÍ-MẬT".encode() not in everything and theirs.encode() not in everything
    # Doctors and admins do not use the patient export.
    assert (await doctor.get("/api/v1/chat/export")).status_code == 403


async def test_operator_exports_a_users_data(world: World, tmp_path) -> None:  # type: ignore[no-untyped-def]
    patient, _doctor, conversation = await world.consultation("Dữ liệu của tôi")
    out = tmp_path / "export.zip"
    result = await world.server.cli("export", "--user", str(patient.id), "--output", str(out))
    assert result.exit_code == 0, result.output
    files = read_zip(out.read_bytes())
    assert f"conversations/{conversation}/messages.jsonl" in files
    rows = await world.server.audit_rows(action="export.patient", object_id=str(patient.id))
    assert [r.role for r in rows] == ["OPERATOR"]


async def test_retention_purges_call_recordings_too(world: World) -> None:
    """A recording is PHI like the chat: it goes with the conversation's retention."""
    call = await world.call_in_progress()
    recording_id = await call.recording_runs()
    webm_start = b"\x1a\x45\xdf\xa3" + b"\x00" * 1020  # an EBML (WebM) header, then filler
    stored = await call.doctor.uploads_chunk(call.room_id, recording_id, 0, webm_start)
    assert stored.status_code in (200, 201), stored.text
    conversation = str(call.room["conversationId"])
    await age(world, conversation, "CLOSED", 400)
    async with open_container(world.server.settings) as rt:
        done = await purge_expired(
            rt.db, rt.storage, SearchIndex(rt.keys), rt.clock, rt.audit, {"CLOSED": 365}
        )
    assert conversation in [str(c) for c in done.conversations]
    recording = world.server.db_uuid(recording_id)
    assert await world.server.sql("SELECT id FROM call_recordings WHERE id = :r", r=recording) == []
    chunks = "SELECT chunk_index FROM call_recording_chunks WHERE recording_id = :r"
    assert await world.server.sql(chunks, r=recording) == []


async def index_terms(world: World, conversation: str, words: list[str]) -> set[int]:
    """The search terms of `words` in `conversation` that the index holds."""
    async with open_container(world.server.settings) as rt:
        key = blind.search_key(rt.keys, rt.keys.current_id)
    wanted = {blind.term(key, uuid.UUID(conversation), word) for word in words}
    rows = await world.server.sql("SELECT term FROM search_terms")
    return wanted & {int(row.term) for row in rows}


async def test_retention_purges_the_conversations_search_terms(world: World) -> None:
    """The blind index of a purged conversation goes with it: none of its words' terms stay,
    another conversation's same words still match."""
    patient, doctor, purged = await world.consultation("Uống Paracetamol hạ sốt")
    await doctor.sends(purged, "paracetamol 500mg, ngày ba lần")
    kept = await patient.opens_conversation_with(await world.doctor("BS. Giữ"), "Paracetamol")
    words = ["uong", "paracetamol", "ha", "sot", "500mg", "ngay", "ba", "lan"]
    assert len(await index_terms(world, purged, words)) == len(words)
    await age(world, purged, "CLOSED", 400)
    async with open_container(world.server.settings) as rt:
        report = await purge_expired(
            rt.db, rt.storage, SearchIndex(rt.keys), rt.clock, rt.audit, {"CLOSED": 365}
        )
    assert purged in [str(c) for c in report.conversations] and report.unindexed == 0
    assert await index_terms(world, purged, words) == set()
    key_rows = "SELECT key_id FROM search_conversations WHERE conversation_id = :c"
    assert await world.server.sql(key_rows, c=world.server.db_uuid(purged)) == []
    assert len(await index_terms(world, kept, ["paracetamol"])) == 1
    found = (await patient.get("/api/v1/chat/search", params={"q": "paracetamol"})).json()
    assert {m["conversationId"] for m in found["messages"]} == {kept}


async def test_retention_purges_the_conversation_archive_too(world: World) -> None:
    """The archive object is a copy of the messages: it goes with them."""
    _patient, doctor, conversation = await world.consultation("Lưu trữ rồi xoá")
    assert (await doctor.sets_status(conversation, "CLOSED")).status_code == 200
    async with open_container(world.server.settings) as rt:
        assert await Archiver(rt.db, rt.storage, rt.clock).archive(uuid.UUID(conversation))
    await age(world, conversation, "ARCHIVED", 400)
    archive = "SELECT storage_key FROM conversation_archives WHERE conversation_id = :c"
    assert len(await world.server.sql(archive, c=world.server.db_uuid(conversation))) == 1
    async with open_container(world.server.settings) as rt:
        report = await purge_expired(
            rt.db, rt.storage, SearchIndex(rt.keys), rt.clock, rt.audit, {"ARCHIVED": 365}
        )
        assert await Archiver(rt.db, rt.storage, rt.clock).read(uuid.UUID(conversation)) == []
    assert conversation in [str(c) for c in report.conversations] and report.archives >= 1
    assert await world.server.sql(archive, c=world.server.db_uuid(conversation)) == []
    rows = await world.server.audit_rows(conversation_id=conversation, action="retention.purge")
    assert [r.detail for r in rows] == ["1 messages, 0 files, the archive"]
