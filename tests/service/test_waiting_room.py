"""The waiting room (issue 17): a patient answering the doctor's ring goes straight in; one who
comes late, or by an appointment's link, waits until the doctor admits them; nothing is
signalled to or from anyone not let in; the join window is the room's (the appointment's)
and is enforced."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from clinic import Clinic

from medtalk.calls.schemas import CreateRoomRequest
from medtalk.core.errors import Conflict, Forbidden
from medtalk.db.tables import appointments

RING = 60  # seconds (MEDTALK_CALL_RING_SECONDS)


async def test_a_patient_answering_late_waits_until_the_doctor_admits_them(
    clinic: Clinic,
) -> None:
    patient, doctor = await clinic.patient(), await clinic.doctor()
    room = await doctor.opens_room(await patient.opens_conversation_with(doctor))
    clinic.clock.advance(RING + 1)
    waiting = await patient.joins(room)
    assert waiting.status == "WAITING" and not waiting.admitted
    [(host, event)] = clinic.events("participant_waiting")
    assert host == doctor.id and event["userName"] == "Trần Thị Bình"
    assert clinic.events("participant_joined") == []
    # The doctor comes in: the patient is still waiting, and the doctor sees it.
    joined = await doctor.joins(room)
    assert joined.status == "WAITING" and joined.admitted
    assert {(p.role, p.admitted) for p in joined.participants} == {
        ("DOCTOR", True),
        ("PATIENT", False),
    }
    # Signaling is server-enforced: the waiting patient neither sends nor receives.
    with pytest.raises(Conflict) as refused:
        await patient.signals(room, "ice_candidate")
    assert refused.value.code == "NOT_ADMITTED"
    assert await doctor.signals(room, "offer") == 0
    assert clinic.events("offer") == []
    admitted = await doctor.admits(room, patient)
    assert admitted.status == "IN_PROGRESS"
    assert {target for target, _ in clinic.events("call_started")} == {doctor.id, patient.id}
    assert len(clinic.events("participant_admitted")) == 2
    assert await doctor.signals(room, "offer") == 1
    assert [target for target, _ in clinic.events("offer")] == [patient.id]
    assert (await doctor.admits(room, patient)).status == "IN_PROGRESS"  # twice: harmless
    assert len(clinic.events("participant_admitted")) == 2
    assert [row.detail for row in await clinic.audit("room.admit")] == [str(patient.id)] * 2


async def test_answering_the_doctors_ring_needs_no_admission(clinic: Clinic) -> None:
    patient, doctor = await clinic.patient(), await clinic.doctor()
    room = await doctor.opens_room(await patient.opens_conversation_with(doctor))
    # The patient answers faster than the doctor's page joins (it asks for the camera first).
    clinic.clock.advance(RING)
    answered = await patient.joins(room)
    assert answered.admitted and answered.status == "WAITING"
    joined = await doctor.joins(room)
    assert joined.status == "IN_PROGRESS"
    assert clinic.events("participant_waiting") == []
    # Admitted once is admitted for the call: a reload comes straight back in.
    again = await patient.joins(room)
    assert again.admitted and again.status == "IN_PROGRESS"


async def test_only_the_doctor_in_the_room_admits_and_only_who_waits(clinic: Clinic) -> None:
    patient, doctor = await clinic.patient(), await clinic.doctor()
    room = await doctor.opens_room(await patient.opens_conversation_with(doctor))
    clinic.clock.advance(RING + 1)
    assert not (await patient.joins(room)).admitted
    with pytest.raises(Forbidden):
        await patient.admits(room, patient)
    with pytest.raises(Conflict) as not_in:
        await doctor.admits(room, patient)
    assert not_in.value.code == "NOT_JOINED"
    await doctor.joins(room)
    with pytest.raises(Conflict) as nobody:
        await doctor.admits(room, await clinic.patient("Người lạ"))
    assert nobody.value.code == "NOT_WAITING"


async def test_nobody_is_admitted_after_the_room_expires(clinic: Clinic) -> None:
    patient, doctor = await clinic.patient(), await clinic.doctor()
    room = await doctor.opens_room(await patient.opens_conversation_with(doctor))
    clinic.clock.advance(RING + 1)
    await patient.joins(room)
    await doctor.joins(room)
    clinic.clock.advance(30 * 60)  # the default 30 minutes
    with pytest.raises(Conflict) as late:
        await doctor.admits(room, patient)
    assert late.value.code == "ROOM_EXPIRED"
    with pytest.raises(Conflict) as expired:
        await doctor.signals(room)
    assert expired.value.code == "ROOM_EXPIRED"


async def test_the_join_window_is_the_appointments(clinic: Clinic) -> None:
    patient, doctor = await clinic.patient(), await clinic.doctor()
    appointment = uuid.uuid4()
    at = clinic.clock.now() + timedelta(hours=2)
    async with clinic.services.db.transaction() as db:
        await db.execute(
            appointments.insert().values(
                id=appointment,
                patient_id=patient.id,
                doctor_id=doctor.id,
                scheduled_time=at,
                created_at=clinic.clock.now(),
            )
        )
    request = CreateRoomRequest(appointment_id=appointment, duration=20)
    room = await clinic.services.calls.create_room(doctor.context, request)
    assert room.expires_at == at + timedelta(minutes=20)
    with pytest.raises(Conflict) as early:
        await patient.joins(room)
    assert early.value.code == "TOO_EARLY"
    clinic.clock.advance(2 * 3600 - 15 * 60)  # the room opens 15 minutes before
    assert not (await patient.joins(room)).admitted
    clinic.clock.advance(35 * 60)
    with pytest.raises(Conflict) as late:
        await doctor.joins(room)
    assert late.value.code == "ROOM_EXPIRED"
    # An appointment whose time is over gets no room (unless the doctor names a new time).
    with pytest.raises(Conflict) as over:
        await clinic.services.calls.create_room(doctor.context, request)
    assert over.value.code == "APPOINTMENT_OVER"


async def test_a_waiting_patient_dropping_is_no_reconnection(clinic: Clinic) -> None:
    patient, doctor = await clinic.patient(), await clinic.doctor()
    room = await doctor.opens_room(await patient.opens_conversation_with(doctor))
    clinic.clock.advance(RING + 1)
    await patient.joins(room)
    await doctor.joins(room)
    await clinic.services.calls.participant_disconnected(patient.id)
    assert clinic.events("participant_reconnecting") == []
    await clinic.services.calls.participant_connected(patient.id)
    assert clinic.events("participant_reconnected") == []
