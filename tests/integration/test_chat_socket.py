"""The spec's Socket.IO events, with python-socketio clients against a live server."""

from __future__ import annotations

import asyncio

from world import World


async def test_message_sent_over_socket_reaches_the_other_side(world: World) -> None:
    patient, doctor, conversation = await world.consultation()
    patient_socket, doctor_socket = await patient.connects(), await doctor.connects()
    await patient_socket.join(conversation)
    await doctor_socket.join(conversation)
    ack = await patient_socket.call(
        "send_message",
        {"conversationId": conversation, "content": "Hello doctor", "contentType": "TEXT"},
    )
    assert ack["status"] == "SENT" and ack["seq"] == 1
    received = await doctor_socket.events.next("message_received")
    assert received["messageId"] == ack["messageId"]
    assert received["senderId"] == str(patient.id)
    assert received["content"] == "Hello doctor"
    assert received["sentAt"] == ack["sentAt"]
    assert received["conversationId"] == conversation
    assert received["contentType"] == "TEXT"
    assert received["seq"] == 1


async def test_message_sent_over_rest_reaches_sockets_the_same_way(world: World) -> None:
    patient, doctor, conversation = await world.consultation()
    doctor_socket = await doctor.connects()
    await doctor_socket.join(conversation)
    sent = await patient.sends(conversation, "Qua REST")
    received = await doctor_socket.events.next("message_received")
    assert received["messageId"] == sent["messageId"]
    assert received["content"] == "Qua REST"


async def test_typing_is_relayed_with_user_id_and_name(world: World) -> None:
    patient, doctor, conversation = await world.consultation()
    patient_socket, doctor_socket = await patient.connects(), await doctor.connects()
    await patient_socket.join(conversation)
    await doctor_socket.join(conversation)
    assert (await doctor_socket.call("typing_start", {"conversationId": conversation}))["ok"]
    typing = await patient_socket.events.next("typing_start")
    assert typing == {
        "conversationId": conversation,
        "userId": str(doctor.id),
        "userName": doctor.name,
    }
    await doctor_socket.call("typing_stop", {"conversationId": conversation})
    assert (await patient_socket.events.next("typing_stop"))["userId"] == str(doctor.id)
    await doctor_socket.events.none("typing_start")  # not echoed to the typist


async def test_mark_read_fans_out_message_read(world: World) -> None:
    patient, doctor, conversation = await world.consultation()
    patient_socket, doctor_socket = await patient.connects(), await doctor.connects()
    await patient_socket.join(conversation)
    await doctor_socket.join(conversation)
    sent = await patient.sends(conversation, "Đọc giúp tôi")
    await doctor_socket.events.next("message_received")
    ack = await doctor_socket.call("mark_read", {"messageId": sent["messageId"]})
    assert ack["messageId"] == sent["messageId"]
    receipt = await patient_socket.events.next("message_read")
    assert receipt["messageId"] == sent["messageId"]
    assert receipt["readAt"] == ack["readAt"]
    assert receipt["readerId"] == str(doctor.id)


async def test_rejoin_with_last_seq_replays_missed_messages_in_order_before_live(
    world: World,
) -> None:
    patient, doctor, conversation = await world.consultation()
    for i in range(1, 4):
        await patient.sends(conversation, f"trước {i}")
    doctor_socket = await doctor.connects()
    await doctor_socket.join(conversation, last_seq=3)
    await doctor_socket.close()
    for i in range(4, 9):
        await patient.sends(conversation, f"khi mất mạng {i}")  # doctor offline
    doctor_socket = await doctor.connects()
    ack = await doctor_socket.join(conversation, last_seq=3)
    assert ack["replayed"] == 5
    await patient.sends(conversation, "trực tiếp 9")
    seqs = [(await doctor_socket.events.next("message_received"))["seq"] for _ in range(6)]
    assert seqs == [4, 5, 6, 7, 8, 9]
    await doctor_socket.events.none("message_received")  # and nothing twice


async def test_concurrent_senders_are_delivered_gap_free_and_in_order(world: World) -> None:
    patient, doctor, conversation = await world.consultation()
    patient_socket, doctor_socket = await patient.connects(), await doctor.connects()
    await doctor_socket.join(conversation)

    async def burst(sender, socket_, label: str) -> None:  # type: ignore[no-untyped-def]
        for i in range(15):
            if socket_ is None:
                await sender.sends(conversation, f"{label} {i}")
            else:
                await socket_.call(
                    "send_message", {"conversationId": conversation, "content": f"{label} {i}"}
                )

    await asyncio.gather(burst(patient, patient_socket, "ws"), burst(doctor, None, "rest"))
    seqs = [(await doctor_socket.events.next("message_received"))["seq"] for _ in range(30)]
    assert seqs == list(range(1, 31))


async def test_join_without_last_seq_does_not_replay_history(world: World) -> None:
    patient, doctor, conversation = await world.consultation("Tin đầu tiên")
    doctor_socket = await doctor.connects()
    ack = await doctor_socket.join(conversation)
    assert ack["replayed"] == 0
    await doctor_socket.events.none("message_received", within=0.3)
