"""The waiting room over the wire (issue 17): a patient waiting to be let in gets no `offer`,
`answer` or `ice_candidate` on their socket and cannot send one; `call_admit` lets them in.

The rooms are scheduled (as an appointment's are): there the patient always waits to be let in,
however soon they come (a call placed on the spot lets the answering patient straight in)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from world import World

OFFER = {"type": "offer", "sdp": "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\n"}
ANSWER = {"type": "answer", "sdp": "v=0\r\no=- 2 2 IN IP4 127.0.0.1\r\n"}
CANDIDATE = {"candidate": "candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host", "sdpMid": "0"}


def _in_a_minute() -> str:
    return (datetime.now(UTC) + timedelta(minutes=1)).isoformat()


def _signals(room_id: str) -> list[tuple[str, dict[str, Any]]]:
    return [
        ("offer", {"roomId": room_id, "sdp": OFFER}),
        ("answer", {"roomId": room_id, "sdp": ANSWER}),
        ("ice_candidate", {"roomId": room_id, "candidate": CANDIDATE}),
    ]


async def test_a_waiting_patient_gets_no_signaling_until_admitted(world: World) -> None:
    patient, doctor, room = await world.video_consultation(scheduledTime=_in_a_minute())
    room_id = room["roomId"]
    patient_socket, doctor_socket = await patient.connects(), await doctor.connects()

    waiting = await patient.joins_room(room_id)  # the appointment link, before the doctor
    assert waiting["status"] == "WAITING" and waiting["admitted"] is False
    announced = await doctor_socket.events.next("participant_waiting")
    assert announced == {
        "roomId": room_id,
        "userId": str(patient.id),
        "userName": patient.name,
        "role": "PATIENT",
    }
    joined = await doctor.joins_room(room_id)
    assert joined["status"] == "WAITING"
    assert [(p["role"], p["admitted"]) for p in joined["participants"]] == [
        ("PATIENT", False),
        ("DOCTOR", True),
    ]
    for event, body in _signals(room_id):
        assert await doctor_socket.call(event, body) == {"roomId": room_id, "relayed": 0}
        refused = await patient_socket.call(event, body)
        assert refused["error"]["code"] == "NOT_ADMITTED", refused
    for event in ("offer", "answer", "ice_candidate"):
        await patient_socket.events.none(event, within=0.2)
        await doctor_socket.events.none(event, within=0.05)

    # Only the host admits; then the call starts and signaling flows both ways.
    refused = await patient_socket.call(
        "call_admit", {"roomId": room_id, "userId": str(patient.id)}
    )
    assert refused["error"]["code"] == "FORBIDDEN"
    ack = await doctor_socket.call("call_admit", {"roomId": room_id, "userId": str(patient.id)})
    assert ack == {"roomId": room_id, "userId": str(patient.id), "status": "IN_PROGRESS"}
    for socket_ in (patient_socket, doctor_socket):
        assert (await socket_.events.next("participant_admitted"))["userId"] == str(patient.id)
        assert (await socket_.events.next("call_started"))["roomId"] == room_id
    assert await doctor_socket.call("offer", _signals(room_id)[0][1]) == {
        "roomId": room_id,
        "relayed": 1,
    }
    assert (await patient_socket.events.next("offer"))["sdp"] == OFFER
    ack = await patient_socket.call("answer", _signals(room_id)[1][1])
    assert ack == {"roomId": room_id, "relayed": 1}
    assert (await doctor_socket.events.next("answer"))["fromUserId"] == str(patient.id)


async def test_admit_over_rest_and_its_refusals(world: World) -> None:
    patient, doctor, room = await world.video_consultation(scheduledTime=_in_a_minute())
    room_id = room["roomId"]
    admit = f"/api/v1/video-call/rooms/{room_id}/admit"
    await patient.joins_room(room_id)
    # A doctor who was not online when the patient came in sees who waits in the room list.
    [listed] = (await doctor.get("/api/v1/video-call/rooms")).json()["rooms"]
    assert listed["waiting"] == [{"userId": str(patient.id), "userName": patient.name}]
    [own] = (await patient.get("/api/v1/video-call/rooms")).json()["rooms"]
    assert own["waiting"] == []  # only the host is told
    not_in = await doctor.post(admit, json={"userId": str(patient.id)})
    assert not_in.status_code == 409 and not_in.json()["error"]["code"] == "NOT_JOINED"
    await doctor.joins_room(room_id)
    admitted = await doctor.post(admit, json={"userId": str(patient.id)})
    assert admitted.status_code == 200, admitted.text
    assert admitted.json()["status"] == "IN_PROGRESS"
    stranger = await world.patient("Người lạ")
    hidden = await stranger.post(admit, json={"userId": str(stranger.id)})
    assert hidden.status_code == 404
