"""The call's message in its conversation survives a crash right after the call ends (issue
17): it is an outbox job written in the transaction that ends the room, run once committed."""

from __future__ import annotations

import json

import sqlalchemy as sa
from clinic import Clinic, Person

from medtalk.chat.schemas import ConversationCreated
from medtalk.db.tables import outbox
from medtalk.jobs.job import Job
from medtalk.jobs.kinds.record_call import RECORD_CALL


async def _pending_call_jobs(clinic: Clinic) -> list[Job]:
    query = sa.select(outbox.c.id, outbox.c.kind, outbox.c.payload).where(
        outbox.c.kind == RECORD_CALL, outbox.c.status == "PENDING"
    )
    async with clinic.services.db.read() as db:
        rows = list(await db.execute(query))
    return [Job(row.id, row.kind, json.loads(row.payload)) for row in rows]


async def _call_messages(person: Person, conversation: ConversationCreated) -> list[str]:
    page = await person.clinic.services.chat.history(
        person.principal, conversation.conversation_id, None, 50
    )
    return [m.content for m in page.messages if m.content_type == "CALL"]


async def test_the_call_message_is_committed_with_the_end_of_the_call(clinic: Clinic) -> None:
    patient, doctor = await clinic.patient(), await clinic.doctor()
    conversation = await patient.opens_conversation_with(doctor)
    room = await doctor.opens_room(conversation)
    await doctor.joins(room)
    await patient.joins(room)
    clinic.clock.advance(754)
    await doctor.ends(room)
    # The process stops here ("crash"): no job ran, yet the call's message is not lost: its
    # job was committed with the room's end, and the next node's relay runs it.
    [job] = await _pending_call_jobs(clinic)
    assert job.payload == {"roomId": str(room.room_id)}
    assert await _call_messages(patient, conversation) == []
    await clinic.services.jobs.registry.run(job)
    await clinic.services.jobs.registry.run(job)  # delivered twice: still one message
    [record] = await _call_messages(patient, conversation)
    assert json.loads(record) == {
        "outcome": "ended",
        "durationSeconds": 754,
        "roomId": str(room.room_id),
    }
    assert await _call_messages(doctor, conversation) == [record]


async def test_a_missed_call_is_recorded_once_however_often_it_is_ended(clinic: Clinic) -> None:
    patient, doctor = await clinic.patient(), await clinic.doctor()
    conversation = await patient.opens_conversation_with(doctor)
    room = await doctor.opens_room(conversation)
    clinic.clock.advance(31 * 60)
    await clinic.services.calls.end_overdue_calls()
    await clinic.services.calls.end_overdue_calls()
    await doctor.ends(room)
    [job] = await _pending_call_jobs(clinic)
    await clinic.services.jobs.registry.run(job)
    [record] = await _call_messages(patient, conversation)
    assert json.loads(record)["outcome"] == "missed"
