"""The Socket.IO edge (issue 16): a client may send only the documented events. Reserved names
(`connect`, `disconnect`, `connect_error`) and anything else are refused before any handler
runs, so a client cannot end its own session bookkeeping or re-run the handshake."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import socketio

from medtalk.realtime.events import ChatNamespace
from world import NAMESPACE, LiveServer, Socket, World


async def sends_raw(socket: Socket, *event: Any) -> None:
    """Write one Socket.IO EVENT frame as a hand-made client would: `42/ws/chat,[...]`."""
    await socket.client.eio.send(f"2{NAMESPACE},{json.dumps(list(event))}")


async def test_a_client_sent_disconnect_does_not_escape_logout(world: World) -> None:
    patient, doctor, conversation = await world.consultation()
    socket = await patient.connects()
    assert (await socket.join(conversation))["joined"]
    await sends_raw(socket, "disconnect")
    # The server still counts the socket as the patient's: presence stays online ...
    await asyncio.sleep(0.2)  # nothing to await: time for the server to act on the raw packet
    presence = (await doctor.presence_of(patient)).json()
    assert presence["online"] is True, presence
    # ... and logout still closes it.
    logout = await world.http.post(
        "/api/v1/auth/logout", headers={"Authorization": f"Bearer {socket_token(socket)}"}
    )
    assert logout.status_code == 200
    assert (await socket.events.next("session_ended")) == {"reason": "TOKEN_REVOKED"}
    for _ in range(100):
        if not socket.client.connected:
            break
        await asyncio.sleep(0.05)  # the client's state: polled
    assert not socket.client.connected


async def test_a_client_sent_connect_cannot_forge_the_audit_client(world: World) -> None:
    patient = await world.patient()
    token = patient.token
    socket = await patient.connects(token)
    forged_environ = {
        "asgi.scope": {"client": ["203.0.113.66", 1]},
        "HTTP_USER_AGENT": "forged-agent",
    }
    await sends_raw(socket, "connect", forged_environ, {"token": f"Bearer {token}"})
    ack = await socket.call("connect", forged_environ)
    assert ack["error"]["code"] == "EVENT_NOT_ALLOWED"
    rows = await world.server.audit_rows(actor_id=patient.id, action="socket.connect")
    assert len(rows) == 1, [(r.client_ip, r.user_agent) for r in rows]
    assert rows[0].client_ip == "127.0.0.1"
    assert rows[0].user_agent != "forged-agent"


@pytest.mark.parametrize("event", ["connect", "disconnect", "connect_error"])
async def test_reserved_events_from_the_client_are_refused(world: World, event: str) -> None:
    patient, _doctor, conversation = await world.consultation()
    socket = await patient.connects()
    ack = await socket.call(event, {"reason": "client"})
    assert ack == {"error": {"code": "EVENT_NOT_ALLOWED", "message": "this event is not accepted"}}
    # The socket is unharmed: it still joins and sends.
    assert (await socket.join(conversation))["joined"]


@pytest.mark.parametrize("event", ["announce_presence", "disconnect_sessions", "message", "x"])
async def test_undocumented_events_are_refused(world: World, event: str) -> None:
    patient = await world.patient()
    socket = await patient.connects()
    ack = await socket.call(event, {"userId": str(patient.id)})
    assert ack["error"]["code"] == "EVENT_NOT_ALLOWED"


async def test_malformed_event_frames_are_dropped_and_the_socket_lives_on(world: World) -> None:
    patient, _doctor, conversation = await world.consultation()
    socket = await patient.connects()
    for frame in ("[]", "[42]", '[{"a":1}]', "[null]"):
        await socket.client.eio.send(f"2{NAMESPACE},{frame}")
    assert (await socket.join(conversation))["joined"]


def test_every_handler_is_a_documented_event(server: LiveServer) -> None:
    from medtalk.realtime.edge import CLIENT_EVENTS

    namespace: ChatNamespace = server.app.api.state.namespace
    # connect/disconnect are the server's own calls (on_connect, on_disconnect), never a
    # client's event; every other handler is registered by a handler group.
    assert namespace.events() == set(CLIENT_EVENTS)


async def test_extra_sockets_of_one_user_are_refused_with_a_code(world: World) -> None:
    patient = await world.patient()
    cap = getattr(world.server.settings, "max_sockets_per_user", 20)
    token = patient.token
    for _ in range(cap):
        await patient.connects(token)
    extra = socketio.AsyncClient(reconnection=False)
    refusals: list[Any] = []
    extra.on("connect_error", refusals.append, namespace=NAMESPACE)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await extra.connect(
            world.server.base_url,
            namespaces=[NAMESPACE],
            auth={"token": f"Bearer {token}"},
            transports=["websocket"],
            wait_timeout=3,
        )
    await extra.disconnect()
    assert refusals and refusals[0]["data"]["code"] == "TOO_MANY_SOCKETS", refusals
    # Another user is not affected, and a closed socket frees its place.
    await (await world.patient("Người khác")).connects()
    await world.sockets[-2].says_goodbye()
    await patient.connects(token)


def socket_token(socket: Socket) -> str:
    auth = socket.client.connection_auth
    assert isinstance(auth, dict)
    return str(auth["token"]).removeprefix("Bearer ")


async def test_a_second_connect_on_one_session_still_reads_the_handshake(world: World) -> None:
    """Memory (issue 15): once connected, the server keeps only the handshake's token, user
    agent and peer address; a later connect on the same Engine.IO session still authenticates
    by the handshake's header and audits where it came from."""
    from medtalk.realtime.edge import HANDSHAKE_ENVIRON_KEYS

    patient, _doctor, conversation = await world.consultation()
    client = socketio.AsyncClient(reconnection=False)
    await client.connect(
        world.server.base_url,
        namespaces=[NAMESPACE],
        headers={"Authorization": f"Bearer {patient.token}", "User-Agent": "second-connect/1"},
        transports=["websocket"],
        wait_timeout=5,
    )
    try:
        environ = world.server.app.api.state.sio.environ[client.eio.sid]
        assert set(environ) <= HANDSHAKE_ENVIRON_KEYS, sorted(environ)
        reconnected = asyncio.Event()
        client.on("connect", reconnected.set, namespace=NAMESPACE)
        # What socket.io-client's `socket.disconnect(); socket.connect()` does on a Manager
        # it shares: the namespace's DISCONNECT, then CONNECT (no auth payload this time) on
        # the same Engine.IO session.
        await client.eio.send(f"1{NAMESPACE},")
        del client.namespaces[NAMESPACE]
        await client.eio.send(f"0{NAMESPACE},")
        await asyncio.wait_for(reconnected.wait(), 5)
        ack = await client.call(
            "join_conversation", {"conversationId": conversation}, namespace=NAMESPACE
        )
        assert ack["joined"], ack
        rows = await world.server.audit_rows(actor_id=patient.id, action="socket.connect")
        assert [(r.client_ip, r.user_agent) for r in rows] == [
            ("127.0.0.1", "second-connect/1")
        ] * 2
    finally:
        await client.disconnect()
