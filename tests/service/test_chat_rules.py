"""Chat's rules, through ChatService: who may write, numbering, retries, receipts, audit."""

from __future__ import annotations

import pytest
from clinic import Clinic

from medtalk.chat.schemas import ConversationStatus
from medtalk.core.errors import Conflict, Forbidden, NotFound


async def test_messages_are_numbered_in_order_without_gaps(clinic: Clinic) -> None:
    patient, doctor = await clinic.patient(), await clinic.doctor()
    conversation = await patient.opens_conversation_with(doctor, "Chào bác sĩ")
    sent = [
        await patient.sends(conversation, "Tôi bị đau đầu"),
        await doctor.sends(conversation, "Từ khi nào?"),
        await patient.sends(conversation, "Từ hôm qua"),
    ]
    assert [message.seq for message in sent] == [2, 3, 4]  # the opening message is 1
    announced = [payload["seq"] for _, payload in clinic.events("message_received")]
    assert announced == [1, 2, 3, 4]


async def test_a_retried_message_is_stored_and_announced_once(clinic: Clinic) -> None:
    patient, doctor = await clinic.patient(), await clinic.doctor()
    conversation = await patient.opens_conversation_with(doctor)
    first = await patient.sends(conversation, "Tôi bị sốt", client_id="tab-1:7")
    again = await patient.sends(conversation, "Tôi bị sốt", client_id="tab-1:7")
    assert again.message_id == first.message_id and again.seq == first.seq
    assert len(clinic.events("message_received")) == 1
    # Both attempts were the patient's doing: both are in the trail.
    assert len(await clinic.audit("message.send")) == 2


async def test_only_the_two_participants_write_and_outsiders_learn_nothing(
    clinic: Clinic,
) -> None:
    patient, doctor = await clinic.patient(), await clinic.doctor()
    stranger = await clinic.patient("Người lạ")
    conversation = await patient.opens_conversation_with(doctor)
    with pytest.raises(NotFound):
        await stranger.sends(conversation, "Xin chào")
    assert clinic.events("message_received") == []


async def test_a_closed_conversation_takes_no_messages_until_the_doctor_reopens_it(
    clinic: Clinic,
) -> None:
    patient, doctor = await clinic.patient(), await clinic.doctor()
    conversation = await patient.opens_conversation_with(doctor)
    chat = clinic.services.chat
    with pytest.raises(Forbidden):
        await chat.set_status(
            patient.principal, conversation.conversation_id, ConversationStatus.CLOSED
        )
    await chat.set_status(doctor.principal, conversation.conversation_id, ConversationStatus.CLOSED)
    with pytest.raises(Conflict) as refused:
        await patient.sends(conversation, "Còn ai không?")
    assert refused.value.code == "CONVERSATION_NOT_ACTIVE"
    await chat.set_status(doctor.principal, conversation.conversation_id, ConversationStatus.ACTIVE)
    assert (await patient.sends(conversation, "Cảm ơn bác sĩ")).seq == 1
    statuses = [payload["status"] for _, payload in clinic.events("conversation_status")]
    assert statuses == ["CLOSED", "ACTIVE"]


async def test_reading_marks_everything_before_it_and_is_announced_once(clinic: Clinic) -> None:
    patient, doctor = await clinic.patient(), await clinic.doctor()
    conversation = await patient.opens_conversation_with(doctor)
    await patient.sends(conversation, "Một")
    second = await patient.sends(conversation, "Hai")
    receipt = await doctor.reads(second)
    assert receipt.up_to_seq == 2 and receipt.reader_id == doctor.id
    await doctor.reads(second)  # nothing new is read: no second announcement
    assert len(clinic.events("message_read")) == 1
    assert [row.actor_id for row in await clinic.audit("message.mark_read")] == [doctor.id] * 2


async def test_nothing_is_announced_when_the_change_is_refused(clinic: Clinic) -> None:
    patient = await clinic.patient()
    not_a_doctor = await clinic.patient("Bệnh nhân khác")
    with pytest.raises(NotFound):
        await patient.opens_conversation_with(not_a_doctor, "Xin chào")
    assert clinic.heard.events == []
    assert await clinic.audit("conversation.create") == []
