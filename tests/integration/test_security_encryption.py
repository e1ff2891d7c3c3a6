"""Encryption at rest: no plaintext in any table or on disk, tampering is refused rather than
served, and `medtalk keys rotate` moves every row and file to the newest key, resumably."""

from __future__ import annotations

import asyncio
import base64
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from medtalk.cli.common import open_container
from medtalk.core.crypto import KeyRing
from medtalk.jobs.kinds.archive import Archiver
from medtalk.privacy.rotation import KeyRotation
from world import LiveServer, World, postgres_admin_url, start_server, try_create_database

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
TABLES = ("chat_messages", "chat_files", "conversations", "audit_log", "users")


def new_key(key_id: str) -> str:
    return f"{key_id}:{base64.b64encode(os.urandom(32)).decode()}"


async def everything_stored(server: LiveServer) -> bytes:
    """Every row of every table we write, and every file on disk, as one byte string."""
    dump = b""
    for table in TABLES:
        for row in await server.sql(f"SELECT * FROM {table}"):
            dump += " ".join(str(value) for value in row).encode() + b"\n"
    files = Path(server.settings.data_dir, "files")
    for path in await asyncio.to_thread(lambda: [p for p in files.rglob("*") if p.is_file()]):
        dump += await asyncio.to_thread(path.read_bytes)
    return dump


async def test_no_plaintext_in_any_table_or_file(world: World) -> None:
    patient, doctor, conversation = await world.consultation()
    text = "Kết quả xét nghiệm HIV âm tính"
    await patient.sends(conversation, text)
    await doctor.uploads(conversation, "HIV-xet-nghiem.pdf", PDF + b"LAB-MARKER-7731")
    stored = await everything_stored(world.server)
    for secret in (text, "HIV-xet-nghiem", "LAB-MARKER-7731"):
        assert secret.encode() not in stored, secret
    page = await patient.history(conversation)
    assert [m["content"] for m in page["messages"]] == ["HIV-xet-nghiem.pdf", text]
    assert page["messages"][0]["fileName"] == "HIV-xet-nghiem.pdf"


async def test_tampered_or_moved_ciphertext_is_refused_not_served(world: World) -> None:
    patient, doctor, conversation = await world.consultation()
    first = await patient.sends(conversation, "Tôi dị ứng penicillin")
    second = await patient.sends(conversation, "Tôi đang mang thai")
    third = await patient.sends(conversation, "Cảm ơn bác sĩ")
    server = world.server
    (row,) = await server.sql(
        "SELECT content FROM chat_messages WHERE id = :id", id=server.db_uuid(first["messageId"])
    )
    raw = bytearray(base64.b64decode(row.content))
    raw[20] ^= 0x01  # one bit of the ciphertext
    await server.execute(
        "UPDATE chat_messages SET content = :c WHERE id = :id",
        c=base64.b64encode(bytes(raw)).decode(),
        id=server.db_uuid(first["messageId"]),
    )
    # A valid ciphertext of another row, copied over: the message id is bound in (AAD).
    await server.execute(
        "UPDATE chat_messages SET content = "
        "(SELECT content FROM chat_messages WHERE id = :src) WHERE id = :dst",
        src=server.db_uuid(third["messageId"]),
        dst=server.db_uuid(second["messageId"]),
    )
    messages = {m["id"]: m for m in (await doctor.history(conversation))["messages"]}
    for bad in (first, second):
        served = messages[bad["messageId"]]
        assert served["unreadable"] is True and served["content"] == ""
    assert messages[third["messageId"]]["content"] == "Cảm ơn bác sĩ"
    assert messages[third["messageId"]]["unreadable"] is False


async def test_a_tampered_file_is_not_served(world: World) -> None:
    patient, _doctor, conversation = await world.consultation()
    original = PDF + b"TAMPER-TARGET" * 10
    uploaded = await patient.uploads(conversation, "a.pdf", original)
    (row,) = await world.server.sql(
        "SELECT storage_key FROM chat_files WHERE id = :id",
        id=world.server.db_uuid(uploaded["fileId"]),
    )
    path = Path(world.server.settings.data_dir, "files", row.storage_key[:2], row.storage_key)
    data = bytearray(await asyncio.to_thread(path.read_bytes))
    data[30] ^= 0x01
    await asyncio.to_thread(path.write_bytes, bytes(data))
    received, cut = b"", False
    url = f"/api/v1/chat/files/{uploaded['fileId']}"
    async with world.http.stream("GET", url, headers=patient.headers) as response:
        try:
            async for piece in response.aiter_bytes():
                received += piece
        except (httpx.RemoteProtocolError, httpx.ReadError):
            cut = True  # the server stopped the stream at the chunk that failed to open
    assert response.status_code != 200 or cut, "a tampered file was served as if intact"
    assert b"TAMPER-TARGET" not in received


# --- rotation ---------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_database(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    """(backend, URL) of an empty database of its own ("" = SQLite in the data dir)."""
    if request.param == "sqlite":
        yield "sqlite", ""
        return
    url, drop, problem = try_create_database(
        postgres_admin_url(), f"medtalk_rotate_{uuid.uuid4().hex[:8]}"
    )
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required in CI: {problem}")
        pytest.skip(f"PostgreSQL not reachable: {problem}")
    yield "postgresql", url
    drop()


async def test_rotation_moves_every_row_and_file_to_the_newest_key(
    fresh_database: tuple[str, str], tmp_path: Path
) -> None:
    backend, url = fresh_database
    old, new = new_key("k2025"), new_key("k2026")
    with start_server(tmp_path, url, backend=backend, encryption_keys=old) as server:
        async with World(server) as world:
            patient, doctor, conversation = await world.consultation()
            for i in range(5):
                await patient.sends(conversation, f"tin nhắn {i}")
            uploaded = await doctor.uploads(conversation, "don-thuoc.pdf", PDF + b"RX-42")
            before = (await patient.history(conversation))["messages"]
            old_objects = await asyncio.to_thread(
                lambda: sorted(p.name for p in (tmp_path / "files").rglob("*") if p.is_file())
            )
        rotated = await server.cli("keys", "rotate", "--batch-size", "2",
                                   MEDTALK_ENCRYPTION_KEYS=f"{old},{new}")  # fmt: skip
        assert rotated.exit_code == 0, rotated.output
        assert "6 messages and 1 files now under key k2026" in rotated.output
        keys = await server.sql("SELECT DISTINCT key_id FROM chat_messages")
        assert [k.key_id for k in keys] == ["k2026"]
        assert [k.key_id for k in await server.sql("SELECT key_id FROM chat_files")] == ["k2026"]
        again = await server.cli("keys", "rotate", MEDTALK_ENCRYPTION_KEYS=f"{old},{new}")
        assert again.exit_code == 0 and "0 messages and 0 files" in again.output
    # The old key is gone from the ring: everything still reads, the old object is gone.
    with start_server(tmp_path, url, backend=backend, encryption_keys=new) as server:
        async with World(server) as world:
            patient.world = world
            after = (await patient.history(conversation))["messages"]
            assert [m["content"] for m in after] == [m["content"] for m in before]
            assert not any(m["unreadable"] for m in after)
            download = await patient.get(f"/api/v1/chat/files/{uploaded['fileId']}")
            assert download.content == PDF + b"RX-42"
        objects = await asyncio.to_thread(
            lambda: sorted(p.name for p in (tmp_path / "files").rglob("*") if p.is_file())
        )
        assert len(objects) == 1 and objects != old_objects
        # A row under a key that left the ring: rotation refuses to finish and counts it.
        await server.execute("UPDATE chat_messages SET key_id = 'k2019' WHERE seq = 1")
        refused = await server.cli("keys", "rotate", MEDTALK_ENCRYPTION_KEYS=new)
        assert refused.exit_code == 1
        assert "1 rows remain under keys not in the ring (k2019: 1)" in refused.output


async def test_an_interrupted_rotation_resumes_from_its_checkpoint(
    fresh_database: tuple[str, str], tmp_path: Path
) -> None:
    backend, url = fresh_database
    old, new = new_key("a"), new_key("b")
    with start_server(tmp_path, url, backend=backend, encryption_keys=old) as server:
        async with World(server) as world:
            patient, _doctor, conversation = await world.consultation()
            for i in range(7):
                await patient.sends(conversation, f"m{i}")
    settings = server.settings.model_copy(update={"encryption_keys": f"{old},{new}"})

    class Interrupted(Exception):
        pass

    def crash(_count: int) -> None:
        raise Interrupted

    async with open_container(settings) as rt:
        rotation = KeyRotation(rt.db, KeyRing.parse(f"{old},{new}"), rt.storage, rt.clock,
                               batch_size=3)  # fmt: skip
        with pytest.raises(Interrupted):
            await rotation.run(crash)
    done = await server.sql("SELECT count(*) AS n FROM chat_messages WHERE key_id = 'b'")
    assert done[0].n == 3
    checkpoint = await server.sql("SELECT name, position FROM maintenance_checkpoints")
    assert [c.name for c in checkpoint] == ["rotate:messages:b"]
    async with open_container(settings) as rt:
        report = await KeyRotation(rt.db, rt.keys, rt.storage, rt.clock, batch_size=3).run()
    assert report.messages_rotated == 4 and report.complete
    assert (await server.sql("SELECT count(*) AS n FROM maintenance_checkpoints"))[0].n == 0
    assert (await server.sql("SELECT count(*) AS n FROM chat_messages WHERE key_id = 'a'"))[
        0
    ].n == 0


async def test_rotation_reseals_conversation_archives_and_the_rows_inside(
    fresh_database: tuple[str, str], tmp_path: Path
) -> None:
    """An ARCHIVED conversation's archive object (and the sealed rows in it) still reads once
    the old key has left the ring."""
    backend, url = fresh_database
    old, new = new_key("k2025"), new_key("k2026")
    with start_server(tmp_path, url, backend=backend, encryption_keys=old) as server:
        async with World(server) as world:
            patient, doctor, conversation = await world.consultation("Kết quả xét nghiệm")
            await doctor.sends(conversation, "Đường huyết 5,4 mmol/L")
            assert (await doctor.sets_status(conversation, "CLOSED")).status_code == 200
        async with open_container(server.settings) as rt:
            assert await Archiver(rt.db, rt.storage, rt.clock).archive(uuid.UUID(conversation))
        (before,) = await server.sql("SELECT storage_key, key_id FROM conversation_archives")
        assert before.key_id == "k2025"
        rotated = await server.cli("keys", "rotate", MEDTALK_ENCRYPTION_KEYS=f"{old},{new}")
        assert rotated.exit_code == 0, rotated.output
        assert "1 conversation archives rewritten" in rotated.output
        (after,) = await server.sql("SELECT storage_key, key_id FROM conversation_archives")
        assert after.key_id == "k2026" and after.storage_key != before.storage_key
        again = await server.cli("keys", "rotate", MEDTALK_ENCRYPTION_KEYS=f"{old},{new}")
        assert again.exit_code == 0 and "0 conversation archives" in again.output
    only_new = server.settings.model_copy(update={"encryption_keys": new})
    async with open_container(only_new) as rt:
        rows = await Archiver(rt.db, rt.storage, rt.clock).read(uuid.UUID(conversation))
        texts = [rt.keys.open_text(r["key_id"], r["content"], associated=r["id"]) for r in rows]
    objects = await asyncio.to_thread(
        lambda: [p.name for p in (tmp_path / "files").rglob("*") if p.is_file()]
    )
    assert objects == [after.storage_key]
    assert [r["key_id"] for r in rows] == ["k2026", "k2026"]
    assert texts == ["Kết quả xét nghiệm", "Đường huyết 5,4 mmol/L"]
