"""Recording rules, through RecordingService: the doctor asks, only the patient consents."""

from __future__ import annotations

import pytest
from clinic import Clinic, Person

from medtalk.calls.schemas import RoomCreated
from medtalk.core.errors import Conflict, Forbidden


async def call_in_progress(clinic: Clinic) -> tuple[Person, Person, RoomCreated]:
    patient, doctor = await clinic.patient(), await clinic.doctor()
    room = await doctor.opens_room(await patient.opens_conversation_with(doctor))
    await doctor.joins(room)
    await patient.joins(room)
    return patient, doctor, room


async def test_recording_starts_only_with_the_patients_consent(clinic: Clinic) -> None:
    patient, doctor, room = await call_in_progress(clinic)
    with pytest.raises(Forbidden):
        await patient.asks_to_record(room)
    asked = await doctor.asks_to_record(room)
    assert asked.status == "REQUESTED"
    assert [target for target, _ in clinic.events("recording_consent_requested")] == [patient.id]
    with pytest.raises(Forbidden):
        await doctor.consents(room, True)
    started = await patient.consents(room, True)
    assert started.status == "RECORDING" and started.recording_id == asked.recording_id
    assert len(clinic.events("recording_started")) == 2


async def test_a_refusal_records_nothing_and_a_new_request_is_needed(clinic: Clinic) -> None:
    patient, doctor, room = await call_in_progress(clinic)
    await doctor.asks_to_record(room)
    assert (await patient.consents(room, False)).status == "DECLINED"
    with pytest.raises(Conflict) as late:
        await patient.consents(room, True)
    assert late.value.code == "NO_RECORDING_REQUEST"
    assert clinic.events("recording_started") == []


async def test_the_patient_withdraws_consent_and_the_recording_stops(clinic: Clinic) -> None:
    patient, doctor, room = await call_in_progress(clinic)
    await doctor.asks_to_record(room)
    await patient.consents(room, True)
    stopped = await patient.stops_recording(room)
    assert stopped.status != "RECORDING"
    assert len(clinic.events("recording_stopped")) == 2


async def test_ending_the_call_stops_its_recording(clinic: Clinic) -> None:
    patient, doctor, room = await call_in_progress(clinic)
    await doctor.asks_to_record(room)
    await patient.consents(room, True)
    await doctor.ends(room)  # CallService.call_finished -> RecordingService.call_finished
    assert len(clinic.events("recording_stopped")) == 2
