"""Search in encrypted history: diacritic-folded words through the blind index, only the
caller's conversations, newest first with paging; the index holds no text; rotation rebuilds it.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

from world import World, start_server

pytestmark = pytest.mark.parametrize("server", ["sqlite", "postgresql"], indirect=True)

SEARCH = "/api/v1/chat/search"


async def found(person, **params: object) -> list[str]:  # type: ignore[no-untyped-def]
    response = await person.get(SEARCH, params=params)
    assert response.status_code == 200, response.text
    return [m["content"] for m in response.json()["messages"]]


async def test_folded_words_find_messages_in_the_callers_conversations_only(
    world: World,
) -> None:
    patient, doctor, conversation = await world.consultation("Tôi bị sốt từ hôm qua")
    await doctor.sends(conversation, "Chị uống Paracetamol 500mg nhé")
    await patient.sends(conversation, "Đau đầu và SỐT CAO về đêm")
    other = await world.patient("Bệnh nhân khác")
    theirs = await other.opens_conversation_with(doctor, "Con tôi sốt nhẹ")

    assert await found(patient, q="sot") == ["Đau đầu và SỐT CAO về đêm", "Tôi bị sốt từ hôm qua"]
    assert await found(patient, q="sốt cao") == ["Đau đầu và SỐT CAO về đêm"]
    assert await found(patient, q="dau dau") == ["Đau đầu và SỐT CAO về đêm"]
    assert await found(patient, q="PARACETAMOL") == ["Chị uống Paracetamol 500mg nhé"]
    assert await found(patient, q="ibuprofen") == []
    # The doctor's search spans both of their conversations; each patient sees their own.
    assert len(await found(doctor, q="sot")) == 3
    assert await found(other, q="sot") == ["Con tôi sốt nhẹ"]
    assert await found(doctor, q="sot", conversationId=theirs) == ["Con tôi sốt nhẹ"]
    stranger = await world.doctor("BS. Người Lạ")
    refused = await stranger.get(SEARCH, params={"q": "sot", "conversationId": conversation})
    assert refused.status_code == 404
    assert await found(stranger, q="sot") == []
    response = (await patient.get(SEARCH, params={"q": "Sốt"})).json()
    assert response["words"] == ["sot"]

    for bad in ({"q": "a"}, {"q": "sot", "cursor": "not-ours"}, {"q": "sot", "limit": 0}):
        answer = await patient.get(SEARCH, params=bad)
        assert answer.status_code == 422, (bad, answer.text)
    rows = await world.server.audit_rows(action="message.search")
    assert rows and all("sot" not in (row.detail or "") for row in rows)


async def test_results_page_newest_first(world: World) -> None:
    patient, _doctor, conversation = await world.consultation()
    for day in range(1, 8):
        await patient.sends(conversation, f"Ngày {day}: vẫn còn ho")
    seen: list[str] = []
    cursor = None
    for _ in range(5):
        params = {"q": "ho", "limit": 3} | ({"cursor": cursor} if cursor else {})
        page = (await patient.get(SEARCH, params=params)).json()
        seen += [m["content"] for m in page["messages"]]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert seen == [f"Ngày {day}: vẫn còn ho" for day in range(7, 0, -1)]


async def test_the_index_holds_no_text(world: World) -> None:
    patient, _doctor, conversation = await world.consultation("Xét nghiệm HIV âm tính")
    await patient.sends(conversation, "Kết quả xét nghiệm máu bình thường")
    rows = await world.server.sql("SELECT term, block, bits FROM search_terms")
    assert rows and all(isinstance(row.term, int) for row in rows)
    assert "hiv" not in str(rows).lower()
    assert await found(patient, q="hiv") == ["Xét nghiệm HIV âm tính"]


def new_key(key_id: str) -> str:
    return f"{key_id}:{base64.b64encode(os.urandom(32)).decode()}"


async def test_key_rotation_rebuilds_the_index(world: World, tmp_path: Path) -> None:
    if world.server.backend != "sqlite":
        pytest.skip("one backend is enough for the CLI round trip (the SQL is the same)")
    old, new = new_key("k1"), new_key("k2")
    with start_server(tmp_path, "", backend="sqlite", encryption_keys=old) as server:
        from world import World as Fresh

        async with Fresh(server) as fresh:
            patient, _doctor, conversation = await fresh.consultation("Tôi bị sốt")
            await patient.sends(conversation, "Vẫn sốt và ho")
        # History from before the index existed: its terms are missing until rebuilt.
        await server.execute("DELETE FROM search_terms")
        await server.execute("DELETE FROM search_conversations")
        rebuilt = await server.cli("search", "rebuild")
        assert rebuilt.exit_code == 0, rebuilt.output
        assert "1 conversations (2 messages) indexed under key k1" in rebuilt.output
        rotated = await server.cli("keys", "rotate", MEDTALK_ENCRYPTION_KEYS=f"{old},{new}")
        assert rotated.exit_code == 0, rotated.output
        assert "1 conversations (2 messages) indexed under key k2" in rotated.output
        keys = await server.sql("SELECT key_id FROM search_conversations")
        assert [row.key_id for row in keys] == ["k2"]
        again = await server.cli("search", "rebuild", MEDTALK_ENCRYPTION_KEYS=f"{old},{new}")
        assert "0 conversations" in again.output  # resumable: nothing left to do
    with start_server(tmp_path, "", backend="sqlite", encryption_keys=new) as server:
        async with Fresh(server) as fresh:
            patient.world = fresh
            assert await found(patient, q="sot") == ["Vẫn sốt và ho", "Tôi bị sốt"]
