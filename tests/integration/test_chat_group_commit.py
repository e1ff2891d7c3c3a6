"""Text messages are group-committed (db/group_commit.py): a burst of concurrent sends shares one
transaction. Each sender must still see exactly what it would have seen alone: its own seq,
its own refusal, the stored row for a retried client id, nothing stored twice."""

from __future__ import annotations

import asyncio

from world import World


async def test_a_burst_with_retried_client_ids_stores_each_message_once(world: World) -> None:
    patient, doctor, conversation = await world.consultation()
    patient_socket, doctor_socket = await patient.connects(), await doctor.connects()
    await doctor_socket.join(conversation)

    def send(client_id: str) -> asyncio.Future[dict[str, object]]:
        payload = {
            "conversationId": conversation,
            "content": client_id,
            "clientMessageId": client_id,
        }
        return asyncio.ensure_future(patient_socket.call("send_message", payload))

    # Five messages, each sent four times at once (a client retrying over a flaky network).
    acks = await asyncio.gather(*(send(f"c{i % 5}") for i in range(20)))

    by_client: dict[str, set[tuple[object, object]]] = {}
    for index, ack in enumerate(acks):
        by_client.setdefault(f"c{index % 5}", set()).add((ack["messageId"], ack["seq"]))
    assert all(len(copies) == 1 for copies in by_client.values())
    assert sorted(seq for copies in by_client.values() for _, seq in copies) == [1, 2, 3, 4, 5]
    received = [await doctor_socket.events.next("message_received") for _ in range(5)]
    assert [message["seq"] for message in received] == [1, 2, 3, 4, 5]
    await doctor_socket.events.none("message_received")
    assert len((await patient.history(conversation))["messages"]) == 5


async def test_a_refused_send_in_a_burst_takes_no_seq_and_spoils_no_other(world: World) -> None:
    patient, doctor, conversation = await world.consultation()
    stranger = await world.patient("Lê Văn Cường")
    patient_socket = await patient.connects()
    stranger_socket = await stranger.connects()
    doctor_socket = await doctor.connects()
    await doctor_socket.join(conversation)

    def send(socket_: object, text: str) -> asyncio.Future[dict[str, object]]:
        payload = {"conversationId": conversation, "content": text}
        return asyncio.ensure_future(socket_.call("send_message", payload))  # type: ignore[attr-defined]

    sends = []
    for i in range(8):
        sends.append(send(patient_socket, f"mine {i}"))
        sends.append(send(stranger_socket, f"intruder {i}"))
    acks = await asyncio.gather(*sends)

    mine, intruder = acks[0::2], acks[1::2]
    assert all(ack["error"]["code"] == "NOT_FOUND" for ack in intruder)  # type: ignore[index]
    assert sorted(ack["seq"] for ack in mine) == list(range(1, 9))
    received = [await doctor_socket.events.next("message_received") for _ in range(8)]
    assert [message["seq"] for message in received] == list(range(1, 9))
    assert all(message["content"].startswith("mine") for message in received)


async def test_sends_into_a_closed_conversation_are_refused_within_a_burst(world: World) -> None:
    patient, doctor, open_conversation = await world.consultation()
    closed = await patient.opens_conversation_with(doctor)
    assert (await doctor.sets_status(closed, "CLOSED")).status_code == 200
    patient_socket = await patient.connects()

    def send(conversation: str, text: str) -> asyncio.Future[dict[str, object]]:
        payload = {"conversationId": conversation, "content": text}
        return asyncio.ensure_future(patient_socket.call("send_message", payload))

    acks = await asyncio.gather(
        *(send(open_conversation if i % 2 else closed, f"m{i}") for i in range(10))
    )
    refused, accepted = acks[0::2], acks[1::2]
    assert {ack["error"]["code"] for ack in refused} == {"CONVERSATION_NOT_ACTIVE"}  # type: ignore[index]
    assert sorted(ack["seq"] for ack in accepted) == [1, 2, 3, 4, 5]
