"""The spec's chat REST contract, end to end against a live server (SQLite and PostgreSQL)."""

from __future__ import annotations

import re
import uuid

from world import World

ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z$")


async def test_patient_opens_conversation_and_initial_message_is_first(world: World) -> None:
    patient, doctor = await world.patient(), await world.doctor("BS. Nguyen Van A")
    response = await patient.post(
        "/api/v1/chat/conversations/create",
        json={
            "doctorId": str(doctor.id),
            "appointmentId": str(uuid.uuid4()),
            "initialMessage": "Xin chào bác sĩ...",
        },
    )
    assert response.status_code == 201
    body = response.json()
    assert body["doctorName"] == "BS. Nguyen Van A"
    assert body["status"] == "ACTIVE"
    assert ISO_Z.match(body["createdAt"])
    history = await doctor.history(body["conversationId"])
    assert [m["content"] for m in history["messages"]] == ["Xin chào bác sĩ..."]
    assert history["messages"][0]["senderType"] == "PATIENT"
    assert history["hasMore"] is False


async def test_send_message_returns_spec_fields(world: World) -> None:
    patient, _doctor, conversation = await world.consultation()
    sent = await patient.sends(conversation, "Cảm ơn bác sĩ")
    assert sent["status"] == "SENT"
    assert uuid.UUID(sent["messageId"])
    assert ISO_Z.match(sent["sentAt"])
    assert sent["seq"] == 1


async def test_conversation_list_has_last_message_and_unread_count(world: World) -> None:
    patient, doctor, conversation = await world.consultation()
    await doctor.sends(conversation, "Bạn bị đau đầu bao lâu rồi?")
    await doctor.sends(conversation, "Có sốt không?")
    await doctor.sends(conversation, "Bạn nên uống thuốc sau bữa ăn")
    listed = await patient.conversations(status="ACTIVE", page=1, limit=20)
    assert listed["total"] == 1
    (item,) = listed["conversations"]
    assert item["id"] == conversation
    assert item["doctorName"] == doctor.name
    assert item["unreadCount"] == 3
    assert item["lastMessage"]["content"] == "Bạn nên uống thuốc sau bữa ăn"
    assert item["lastMessage"]["isRead"] is False
    # The doctor wrote them, so nothing is unread for the doctor.
    assert (await doctor.conversations())["conversations"][0]["unreadCount"] == 0


async def test_reading_clears_unread_count(world: World) -> None:
    patient, doctor, conversation = await world.consultation()
    await doctor.sends(conversation, "Một")
    second = await doctor.sends(conversation, "Hai")
    await doctor.sends(conversation, "Ba")
    response = await patient.post(f"/api/v1/chat/messages/{second['messageId']}/read")
    assert response.status_code == 200
    assert response.json()["upToSeq"] == 2
    assert (await patient.conversations())["conversations"][0]["unreadCount"] == 1
    page = await patient.history(conversation)
    assert [m["isRead"] for m in page["messages"]] == [False, True, True]


async def test_status_filter_and_paging(world: World) -> None:
    patient = await world.patient()
    doctors = [await world.doctor(f"BS. {i}") for i in range(3)]
    for doctor in doctors:
        await patient.opens_conversation_with(doctor)
    first = await patient.conversations(page=1, limit=2)
    second = await patient.conversations(page=2, limit=2)
    assert first["total"] == second["total"] == 3
    ids = [c["id"] for c in first["conversations"] + second["conversations"]]
    assert len(set(ids)) == 3
    assert (await patient.conversations(status="CLOSED"))["total"] == 0


async def test_history_pages_with_before_cursor_see_every_message_once(world: World) -> None:
    patient, doctor, conversation = await world.consultation()
    sent = []
    for i in range(23):
        sender = patient if i % 2 else doctor
        sent.append((await sender.sends(conversation, f"tin nhắn {i}"))["messageId"])
    seen: list[str] = []
    before = None
    while True:
        params = {"limit": 5} | ({"before": before} if before else {})
        page = await patient.history(conversation, **params)
        seen += [m["id"] for m in page["messages"]]
        sent_times = [m["sentAt"] for m in page["messages"]]
        assert sent_times == sorted(sent_times, reverse=True)  # newest first
        if not page["hasMore"]:
            break
        before = page["messages"][-1]["sentAt"]
    assert seen == list(reversed(sent))


async def test_history_limit_bounds_and_bad_cursor(world: World) -> None:
    patient, _doctor, conversation = await world.consultation()
    path = f"/api/v1/chat/conversations/{conversation}/messages"
    assert (await patient.get(path, params={"limit": 0})).status_code == 422
    assert (await patient.get(path, params={"limit": 101})).status_code == 422
    bad = await patient.get(path, params={"before": "yesterday"})
    assert bad.status_code == 422
    assert bad.json()["error"]["code"] == "INVALID"


async def test_client_message_id_makes_retries_idempotent(world: World) -> None:
    patient, doctor, conversation = await world.consultation()
    first = await patient.sends(conversation, "Gửi lại", clientMessageId="retry-1")
    again = await patient.sends(conversation, "Gửi lại", clientMessageId="retry-1")
    assert again["messageId"] == first["messageId"]
    assert len((await doctor.history(conversation))["messages"]) == 1


async def test_message_content_is_encrypted_at_rest(world: World) -> None:
    patient, doctor, conversation = await world.consultation()
    secret = "Kết quả xét nghiệm HIV âm tính"
    await patient.sends(conversation, secret)
    rows = await world.server.sql(
        "SELECT content, key_id FROM chat_messages WHERE conversation_id = :c",
        c=uuid.UUID(conversation)
        if world.server.backend == "postgresql"
        else uuid.UUID(conversation).hex,
    )
    assert len(rows) == 1
    assert secret not in rows[0].content and rows[0].key_id
    assert (await doctor.history(conversation))["messages"][0]["content"] == secret
