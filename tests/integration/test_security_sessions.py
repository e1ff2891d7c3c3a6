"""Sessions: tokens expire on open sockets too, refresh keeps a socket, logout and an admin's
'revoke all tokens' are honoured on REST and on socket connect (and cut open sockets)."""

from __future__ import annotations

import time
import uuid

import jwt
import pytest
import socketio

from world import NAMESPACE, Person, World


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def cannot_connect(world: World, token: str) -> None:
    client = socketio.AsyncClient(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect(
            world.server.base_url,
            namespaces=[NAMESPACE],
            auth={"token": f"Bearer {token}"},
            transports=["websocket"],
            wait_timeout=3,
        )
    await client.disconnect()


def short_token(world: World, person: Person, seconds: int = 2) -> str:
    return world.server.token(person.id, person.name, person.role, ttl=seconds)


async def test_a_socket_is_cut_off_when_its_token_expires(world: World) -> None:
    patient, _doctor, conversation = await world.consultation()
    socket = await patient.connects(short_token(world, patient, 2))
    assert (await socket.join(conversation))["joined"]
    ended = await socket.events.next("session_ended", timeout=6)
    assert ended == {"reason": "TOKEN_EXPIRED"}
    deadline = time.monotonic() + 3
    while socket.client.connected and time.monotonic() < deadline:
        await socket.client.sleep(0.05)
    assert not socket.client.connected


async def test_refresh_token_keeps_the_socket_open(world: World) -> None:
    patient, doctor, conversation = await world.consultation()
    socket = await patient.connects(short_token(world, patient, 2))
    ack = await socket.call("refresh_token", {"token": patient.token})
    assert ack["ok"] is True and ack["expiresAt"]
    await socket.events.none("session_ended", within=3.5)
    assert (await socket.join(conversation))["joined"]
    # Someone else's token is not a refresh.
    mismatch = await socket.call("refresh_token", {"token": doctor.token})
    assert mismatch["error"]["code"] == "TOKEN_MISMATCH"
    bad = await socket.call("refresh_token", {"token": "not-a-jwt"})
    assert bad["error"]["code"] == "UNAUTHORIZED"


async def test_logout_revokes_the_presented_token_everywhere(world: World) -> None:
    patient, _doctor, conversation = await world.consultation()
    token = patient.token
    open_socket = await patient.connects(token)
    assert (await world.http.get("/api/v1/chat/conversations", headers=bearer(token))).is_success
    logout = await world.http.post("/api/v1/auth/logout", headers=bearer(token))
    assert logout.status_code == 200 and logout.json()["revoked"] is True
    refused = await world.http.get("/api/v1/chat/conversations", headers=bearer(token))
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "TOKEN_REVOKED"
    await cannot_connect(world, token)
    assert (await open_socket.events.next("session_ended")) == {"reason": "TOKEN_REVOKED"}
    # Only that token: the patient's other sessions carry on.
    assert (await patient.history(conversation))["messages"] == []
    rows = await world.server.audit_rows(actor_id=patient.id, action="auth.logout")
    assert len(rows) == 1


async def test_logout_of_a_token_without_jti_revokes_it_by_hash(world: World) -> None:
    patient = await world.patient()
    claims = {"sub": str(patient.id), "name": patient.name, "role": "PATIENT"}
    claims |= {"iat": int(time.time()), "exp": int(time.time()) + 600}
    token = jwt.encode(claims, world.server.settings.jwt_secret, algorithm="HS256")
    assert (await world.http.post("/api/v1/auth/logout", headers=bearer(token))).is_success
    assert (
        await world.http.get("/api/v1/chat/conversations", headers=bearer(token))
    ).status_code == 401
    rows = await world.server.sql("SELECT token_id FROM revoked_tokens")
    assert not any(token in row.token_id for row in rows)  # a hash, never the token itself


async def test_admin_revokes_all_tokens_of_a_user(world: World) -> None:
    patient, _doctor, _conversation = await world.consultation()
    admin, other = await world.admin(), await world.patient("Người khác")
    old = patient.token
    socket = await patient.connects(old)
    path = f"/api/v1/admin/users/{patient.id}/revoke-tokens"
    assert (await other.post(path)).status_code == 403
    done = await admin.post(path)
    assert done.status_code == 200, done.text
    assert done.json()["disconnectedSockets"] == 1
    assert (await socket.events.next("session_ended")) == {"reason": "TOKEN_REVOKED"}
    refused = await world.http.get("/api/v1/chat/conversations", headers=bearer(old))
    assert refused.json()["error"]["code"] == "TOKEN_REVOKED"
    await cannot_connect(world, old)
    # A token issued after the cut-off (next second on) is accepted again.
    later = int(time.time()) + 2
    claims = {"sub": str(patient.id), "name": patient.name, "role": "PATIENT"}
    claims |= {"iat": later, "exp": later + 600, "jti": uuid.uuid4().hex}
    fresh = jwt.encode(claims, world.server.settings.jwt_secret, algorithm="HS256")
    assert (await world.http.get("/api/v1/chat/conversations", headers=bearer(fresh))).is_success
    # Other users are untouched, and the admin action is in the trail.
    assert (await other.get("/api/v1/chat/conversations")).is_success
    rows = await world.server.audit_rows(actor_id=admin.id, action="admin.revoke_tokens")
    assert [r.object_id for r in rows] == [str(patient.id)]
