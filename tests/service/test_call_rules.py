"""Video-call rules, through CallService: who opens rooms, when a call starts and ends."""

from __future__ import annotations

import pytest
from clinic import Clinic

from medtalk.core.errors import Forbidden, NotFound


async def test_the_call_starts_when_doctor_and_patient_are_both_in(clinic: Clinic) -> None:
    patient, doctor = await clinic.patient(), await clinic.doctor()
    room = await doctor.opens_room(await patient.opens_conversation_with(doctor))
    assert [target for target, _ in clinic.events("call_incoming")] == [patient.id]
    assert (await doctor.joins(room)).status == "WAITING"
    assert (await patient.joins(room)).status == "IN_PROGRESS"
    assert len(clinic.events("call_started")) == 2  # one to each side


async def test_only_doctors_open_rooms_and_strangers_see_none(clinic: Clinic) -> None:
    patient, doctor = await clinic.patient(), await clinic.doctor()
    stranger = await clinic.doctor("BS. Người lạ")
    conversation = await patient.opens_conversation_with(doctor)
    with pytest.raises(Forbidden):
        await patient.opens_room(conversation)
    room = await doctor.opens_room(conversation)
    with pytest.raises(NotFound):
        await stranger.joins(room)


async def test_the_patient_ending_the_call_is_recorded_as_such(clinic: Clinic) -> None:
    patient, doctor = await clinic.patient(), await clinic.doctor()
    room = await doctor.opens_room(await patient.opens_conversation_with(doctor))
    await doctor.joins(room)
    await patient.joins(room)
    clinic.clock.advance(95)
    ended = await patient.ends(room)
    assert ended.duration == 95
    [(_, event), _] = clinic.events("call_ended")
    assert event["reason"] == "ended_by_guest" and event["duration"] == 95
    assert (await doctor.ends(room)).duration == 95  # ending again: the same answer
    assert [row.detail for row in await clinic.audit("room.end")] == ["95s", "95s"]


async def test_a_call_ends_at_its_maximum_duration(clinic: Clinic) -> None:
    patient, doctor = await clinic.patient(), await clinic.doctor()
    room = await doctor.opens_room(await patient.opens_conversation_with(doctor))
    await doctor.joins(room)
    await patient.joins(room)
    calls = clinic.services.calls
    clinic.clock.advance(29 * 60)
    await calls.end_overdue_calls()
    assert clinic.events("call_ended") == []
    clinic.clock.advance(60)
    await calls.end_overdue_calls()
    [(_, event), _] = clinic.events("call_ended")
    assert event["reason"] == "max_duration" and event["duration"] == 30 * 60


async def test_a_room_nobody_joined_is_cancelled_when_it_expires(clinic: Clinic) -> None:
    patient, doctor = await clinic.patient(), await clinic.doctor()
    await doctor.opens_room(await patient.opens_conversation_with(doctor))
    clinic.clock.advance(31 * 60)
    await clinic.services.calls.end_overdue_calls()
    [(_, event), _] = clinic.events("call_ended")
    assert event["reason"] == "cancelled" and event["duration"] == 0
