"""Bad tokens, strangers and bad input: every endpoint and event says no, clearly, never 500."""

from __future__ import annotations

import base64
import json
import time
import uuid

import jwt
import pytest
import socketio

from medtalk.core.auth import Role
from world import NAMESPACE, TEST_JWT_SECRET, World, forged_token


def _none_alg_token(user_id: uuid.UUID) -> str:
    def part(obj: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    claims = {"sub": str(user_id), "role": "ADMIN", "exp": int(time.time()) + 600}
    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


def _expired_token(user_id: uuid.UUID) -> str:
    claims = {"sub": str(user_id), "role": "PATIENT", "exp": int(time.time()) - 3600}
    return jwt.encode(claims, TEST_JWT_SECRET, algorithm="HS256")


BAD_TOKENS = {
    "forged": lambda: forged_token(uuid.uuid4()),
    "expired": lambda: _expired_token(uuid.uuid4()),
    "alg-none": lambda: _none_alg_token(uuid.uuid4()),
    "garbage": lambda: "not.a.jwt",
    "no-role": lambda: jwt.encode(
        {"sub": str(uuid.uuid4()), "exp": int(time.time()) + 60}, TEST_JWT_SECRET
    ),
    "sub-not-uuid": lambda: jwt.encode(
        {"sub": "alice", "role": "PATIENT", "exp": int(time.time()) + 60}, TEST_JWT_SECRET
    ),
}


@pytest.mark.parametrize("kind", sorted(BAD_TOKENS))
async def test_bad_tokens_get_401_json(world: World, kind: str) -> None:
    token = BAD_TOKENS[kind]()
    for method, path in [
        ("GET", "/api/v1/chat/conversations"),
        ("POST", "/api/v1/chat/messages/send"),
        ("POST", "/api/v1/chat/conversations/create"),
    ]:
        response = await world.http.request(
            method, path, headers={"Authorization": f"Bearer {token}"}, json={}
        )
        assert response.status_code == 401, (kind, path, response.text)
        assert response.json()["error"]["code"] in ("UNAUTHORIZED", "TOKEN_EXPIRED")


async def test_missing_token_is_401(world: World) -> None:
    response = await world.http.get("/api/v1/chat/conversations")
    assert response.status_code == 401
    assert response.json() == {"error": {"code": "UNAUTHORIZED", "message": "missing bearer token"}}


@pytest.mark.parametrize("kind", ["forged", "expired", "alg-none"])
async def test_bad_tokens_cannot_open_a_socket(world: World, kind: str) -> None:
    client = socketio.AsyncClient(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect(
            world.server.base_url,
            namespaces=[NAMESPACE],
            auth={"token": f"Bearer {BAD_TOKENS[kind]()}"},
            transports=["websocket"],
            wait_timeout=3,
        )
    await client.disconnect()


async def test_stranger_sees_nothing_of_a_conversation(world: World) -> None:
    patient, doctor, conversation = await world.consultation("Riêng tư")
    stranger = await world.patient("Người lạ")
    other_doctor = await world.doctor("BS. Khác")
    for outsider in (stranger, other_doctor):
        history = await outsider.get(f"/api/v1/chat/conversations/{conversation}/messages")
        assert history.status_code == 404
        send = await outsider.post(
            "/api/v1/chat/messages/send",
            json={"conversationId": conversation, "content": "xin chào"},
        )
        assert send.status_code == 404
        assert (await outsider.conversations())["total"] == 0
    # Not-found and not-yours look the same.
    missing = await stranger.get(f"/api/v1/chat/conversations/{uuid.uuid4()}/messages")
    assert missing.json()["error"]["code"] == "NOT_FOUND"
    assert len((await patient.history(conversation))["messages"]) == 1


async def test_stranger_cannot_mark_read_or_join_or_type(world: World) -> None:
    patient, doctor, conversation = await world.consultation()
    sent = await doctor.sends(conversation, "Chỉ cho bệnh nhân")
    stranger = await world.patient("Người lạ")
    response = await stranger.post(f"/api/v1/chat/messages/{sent['messageId']}/read")
    assert response.status_code == 404
    patient_socket, stranger_socket = await patient.connects(), await stranger.connects()
    await patient_socket.join(conversation)
    join = await stranger_socket.join(conversation)
    assert join["error"]["code"] == "NOT_FOUND"
    typing = await stranger_socket.call("typing_start", {"conversationId": conversation})
    assert typing["error"]["code"] == "NOT_JOINED"
    read = await stranger_socket.call("mark_read", {"messageId": sent["messageId"]})
    assert read["error"]["code"] == "NOT_FOUND"
    send = await stranger_socket.call(
        "send_message", {"conversationId": conversation, "content": "chen vào"}
    )
    assert send["error"]["code"] == "NOT_FOUND"
    await patient_socket.events.none("typing_start")
    await patient_socket.events.none("message_received")
    await stranger_socket.events.none("message_received")
    assert len((await patient.history(conversation))["messages"]) == 1


async def test_admin_reads_but_does_not_write(world: World) -> None:
    _patient, _doctor, conversation = await world.consultation("Xin chào")
    admin = await world.admin()
    assert len((await admin.history(conversation))["messages"]) == 1
    response = await admin.post(
        "/api/v1/chat/messages/send", json={"conversationId": conversation, "content": "x"}
    )
    assert response.status_code == 403


async def test_patient_cannot_open_conversation_with_a_non_doctor(world: World) -> None:
    patient, other_patient = await world.patient(), await world.patient("Bệnh nhân khác")
    response = await patient.post(
        "/api/v1/chat/conversations/create", json={"doctorId": str(other_patient.id)}
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "DOCTOR_NOT_FOUND"
    unknown = await patient.post(
        "/api/v1/chat/conversations/create", json={"doctorId": str(uuid.uuid4())}
    )
    assert unknown.status_code == 404


async def test_appointment_of_someone_else_is_refused(world: World) -> None:
    patient, doctor = await world.patient(), await world.doctor()
    appointment = str(uuid.uuid4())
    first = await patient.post(
        "/api/v1/chat/conversations/create",
        json={"doctorId": str(doctor.id), "appointmentId": appointment},
    )
    assert first.status_code == 201
    intruder = await world.patient("Kẻ mạo danh")
    second = await intruder.post(
        "/api/v1/chat/conversations/create",
        json={"doctorId": str(doctor.id), "appointmentId": appointment},
    )
    assert second.status_code == 404


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ("{not json", 422),
        ('{"conversationId": "not-a-uuid", "content": "x"}', 422),
        ('{"conversationId": "%s", "content": "x", "contentType": "SMS"}', 422),
        ('{"conversationId": "%s", "content": "x", "contentType": "IMAGE"}', 422),
        ('{"conversationId": "%s", "content": "   "}', 422),
        ('{"conversationId": "%s"}', 422),
        ('{"conversationId": "%s", "content": 42}', 422),
        ('["a list"]', 422),
        ('{"conversationId": "%s", "content": "x", "unexpected": 1}', 422),
    ],
)
async def test_malformed_send_is_a_clear_4xx(world: World, body: str, status: int) -> None:
    patient, _doctor, conversation = await world.consultation()
    payload = body % conversation if "%s" in body else body
    response = await patient.post(
        "/api/v1/chat/messages/send",
        content=payload.encode(),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == "INVALID"


async def test_over_long_content_is_refused_and_not_stored(world: World) -> None:
    patient, doctor, conversation = await world.consultation()
    limit = world.server.settings.max_message_length
    response = await patient.post(
        "/api/v1/chat/messages/send",
        json={"conversationId": conversation, "content": "a" * (limit + 1)},
    )
    assert response.status_code == 422
    socket_ = await patient.connects()
    ack = await socket_.call(
        "send_message", {"conversationId": conversation, "content": "b" * (limit + 1)}
    )
    assert ack["error"]["code"] == "INVALID"
    assert (await doctor.history(conversation))["messages"] == []
    assert (await patient.sends(conversation, "a" * limit))["status"] == "SENT"


async def test_wrong_enum_values_on_list(world: World) -> None:
    patient = await world.patient()
    for params in ({"status": "OPEN"}, {"page": 0}, {"limit": 1000}, {"page": "x"}):
        response = await patient.get("/api/v1/chat/conversations", params=params)
        assert response.status_code == 422, params


@pytest.mark.parametrize(
    "payload", [None, "text", 42, [], {}, {"conversationId": "nope"}, {"messageId": None}]
)
async def test_malformed_socket_payloads_get_error_acks(world: World, payload: object) -> None:
    patient = await world.patient()
    socket_ = await patient.connects()
    for event in ("join_conversation", "send_message", "typing_start", "mark_read"):
        ack = await socket_.call(event, payload)
        assert ack["error"]["code"] == "INVALID", (event, ack)


async def test_role_in_token_is_trusted_only_when_signed(world: World) -> None:
    patient, doctor, conversation = await world.consultation()
    # A patient changing their own token's role without the secret is just a forged token.
    fake_admin = forged_token(patient.id, role=Role.ADMIN.value)
    response = await world.http.get(
        f"/api/v1/chat/conversations/{conversation}/messages",
        headers={"Authorization": f"Bearer {fake_admin}"},
    )
    assert response.status_code == 401
