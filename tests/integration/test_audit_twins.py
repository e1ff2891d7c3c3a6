"""A HIPAA trail does not depend on the door: each Socket.IO event with a REST twin leaves the
same audit row as the twin (the service writes it, not the edge)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from world import Person, World

# What an audit row says, minus who and when (those differ between the two doors by design).
SHAPE = "action, role, object_type, outcome"


async def trail(world: World, action: str, object_id: str) -> list[dict[str, Any]]:
    rows = await world.server.sql(
        f"SELECT {SHAPE}, detail, object_id, conversation_id, actor_id, client_ip, user_agent "
        "FROM audit_log WHERE action = :action AND object_id = :object_id ORDER BY seq",
        action=action,
        object_id=object_id,
    )
    return [dict(row._mapping) for row in rows]


def same_row(rest: list[dict[str, Any]], socket: list[dict[str, Any]], by: Person) -> None:
    """One row each, alike in everything but the actor and the client software."""
    assert len(rest) == 1, rest
    assert len(socket) == 1, socket
    shape = SHAPE.split(", ")
    alike = [k for k in shape if k != "role"]  # the role is checked by each test
    assert {k: rest[0][k] for k in alike} == {k: socket[0][k] for k in alike}
    for row in (rest[0], socket[0]):
        assert row["outcome"] == "ok"
        assert row["client_ip"] == "127.0.0.1" and row["user_agent"], row
        assert row["conversation_id"] is not None or row["object_type"] == "room"
    assert str(socket[0]["actor_id"]).replace("-", "") == by.id.hex


async def test_send_message_leaves_the_same_trail_by_socket_and_by_rest(world: World) -> None:
    patient, doctor, conversation = await world.consultation()
    by_rest = await patient.sends(conversation, "Tôi bị sốt từ tối qua")
    socket = await doctor.connects()
    by_socket = await socket.call(
        "send_message", {"conversationId": conversation, "content": "Bạn uống nhiều nước nhé"}
    )
    assert "error" not in by_socket, by_socket
    rest, sock = (
        await trail(world, "message.send", by_rest["messageId"]),
        await trail(world, "message.send", by_socket["messageId"]),
    )
    same_row(rest, sock, doctor)
    assert rest[0]["role"] == "PATIENT" and sock[0]["role"] == "DOCTOR"


async def test_mark_read_leaves_the_same_trail_by_socket_and_by_rest(world: World) -> None:
    patient, doctor, conversation = await world.consultation()
    first = await patient.sends(conversation, "Tin thứ nhất")
    second = await patient.sends(conversation, "Tin thứ hai")
    read = await doctor.post(f"/api/v1/chat/messages/{first['messageId']}/read")
    assert read.status_code == 200, read.text
    socket = await doctor.connects()
    ack = await socket.call("mark_read", {"messageId": second["messageId"]})
    assert ack["upToSeq"] == second["seq"], ack
    rest, sock = (
        await trail(world, "message.mark_read", first["messageId"]),
        await trail(world, "message.mark_read", second["messageId"]),
    )
    same_row(rest, sock, doctor)
    assert rest[0]["role"] == sock[0]["role"] == "DOCTOR"


async def test_hangup_leaves_the_same_trail_as_end_call(world: World) -> None:
    by_rest = await world.call_in_progress()
    ended = await by_rest.patient.ends_call(by_rest.room_id)
    by_socket = await world.call_in_progress()
    ack = await by_socket.patient_socket.call("hangup", {"roomId": by_socket.room_id})
    assert "error" not in ack, ack
    rest, sock = (
        await trail(world, "room.end", by_rest.room_id),
        await trail(world, "room.end", by_socket.room_id),
    )
    same_row(rest, sock, by_socket.patient)
    assert rest[0]["role"] == sock[0]["role"] == "PATIENT"
    assert (
        rest[0]["detail"] == f"{ended['duration']}s" and sock[0]["detail"] == f"{ack['duration']}s"
    )


async def test_call_admit_leaves_the_same_trail_as_the_admit_endpoint(world: World) -> None:
    async def a_patient_waits() -> tuple[Person, Person, str]:
        """A scheduled room: the patient who joins waits until the doctor admits them."""
        in_a_minute = (datetime.now(UTC) + timedelta(minutes=1)).isoformat()
        patient, doctor, room = await world.video_consultation(scheduledTime=in_a_minute)
        await patient.joins_room(room["roomId"])
        await doctor.joins_room(room["roomId"])
        return patient, doctor, room["roomId"]

    rest_patient, rest_doctor, by_rest = await a_patient_waits()
    admitted = await rest_doctor.post(
        f"/api/v1/video-call/rooms/{by_rest}/admit", json={"userId": str(rest_patient.id)}
    )
    assert admitted.status_code == 200, admitted.text
    patient, doctor, by_socket = await a_patient_waits()
    socket = await doctor.connects()
    ack = await socket.call("call_admit", {"roomId": by_socket, "userId": str(patient.id)})
    assert "error" not in ack, ack
    rest, sock = (
        await trail(world, "room.admit", by_rest),
        await trail(world, "room.admit", by_socket),
    )
    same_row(rest, sock, doctor)
    assert rest[0]["role"] == sock[0]["role"] == "DOCTOR"
    assert (rest[0]["detail"], sock[0]["detail"]) == (str(rest_patient.id), str(patient.id))
