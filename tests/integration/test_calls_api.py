"""Video-call rooms through the REST API and the Socket.IO call events, against a live server."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest

from medtalk.calls.providers import verify_room_token
from medtalk.core.clock import FakeClock, parse_iso
from world import LiveServer, Metrics, World, eventually, start_server

ROOMS = "/api/v1/video-call"
SDP = {"type": "offer", "sdp": "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"}
CANDIDATE = {
    "candidate": "candidate:1 1 UDP 2130706431 127.0.0.1 50000 typ host",
    "sdpMid": "0",
    "sdpMLineIndex": 0,
}

# A 720p, 30 fps call with the spec's bitrate and no loss: what a good call reports.
PERFECT_STATS = {
    "bitrateKbps": 1500,
    "packetLossPct": 0,
    "rttMs": 40,
    "framesPerSecond": 30,
    "width": 1280,
    "height": 720,
}


def _close_to(stamp: str, expected: datetime, seconds: float = 10) -> bool:
    return abs((parse_iso(stamp) - expected).total_seconds()) <= seconds


# --- creating rooms -----------------------------------------------------------------------


async def test_doctor_creates_room_with_spec_fields_and_patient_hears_call_incoming(
    world: World, server: LiveServer
) -> None:
    patient, doctor, conversation = await world.consultation()
    patient_socket = await patient.connects()
    room = await doctor.creates_room(conversation)
    assert set(room) >= {"roomId", "roomName", "joinUrl", "hostToken", "guestToken", "expiresAt"}
    assert room["status"] == "WAITING" and room["provider"] == "p2p"
    assert room["conversationId"] == conversation and room["appointmentId"] is None
    assert room["roomName"].startswith("consultation-")
    assert room["joinUrl"].endswith(f"/call/{room['roomId']}")
    assert _close_to(room["expiresAt"], datetime.now(UTC) + timedelta(minutes=30))
    secret = server.settings.room_token_secret
    host = verify_room_token(room["hostToken"], secret, room_id=uuid.UUID(room["roomId"]))
    guest = verify_room_token(room["guestToken"], secret, room_id=uuid.UUID(room["roomId"]))
    assert (host["sub"], host["host"]) == (str(doctor.id), True)
    assert (guest["sub"], guest["host"]) == (str(patient.id), False)
    incoming = await patient_socket.events.next("call_incoming")
    assert incoming == {
        "roomId": room["roomId"],
        "roomName": room["roomName"],
        "conversationId": conversation,
        "callerId": str(doctor.id),
        "callerName": doctor.name,
        "joinUrl": room["joinUrl"],
    }
    rows = await server.sql(
        "SELECT status, host_id, guest_id FROM video_call_rooms WHERE room_name = :name",
        name=room["roomName"],
    )
    assert [(r[0], str(r[1]).replace("-", ""), str(r[2]).replace("-", "")) for r in rows] == [
        ("WAITING", doctor.id.hex, patient.id.hex)
    ]


async def test_room_for_an_appointment_finds_its_conversation(world: World) -> None:
    patient, doctor = await world.patient(), await world.doctor()
    appointment = str(uuid.uuid4())
    response = await patient.post(
        "/api/v1/chat/conversations/create",
        json={"doctorId": str(doctor.id), "appointmentId": appointment},
    )
    conversation = response.json()["conversationId"]
    room = await doctor.creates_room(appointmentId=appointment, duration=45)
    assert room["appointmentId"] == appointment and room["conversationId"] == conversation
    assert _close_to(room["expiresAt"], datetime.now(UTC) + timedelta(minutes=45))


async def test_only_the_consultations_doctor_creates_rooms(world: World) -> None:
    patient, doctor, conversation = await world.consultation()
    other_doctor = await world.doctor("BS. Khác")
    body = {"conversationId": conversation}
    assert (await patient.post(f"{ROOMS}/create-room", json=body)).status_code == 403
    assert (await other_doctor.post(f"{ROOMS}/create-room", json=body)).status_code == 404
    missing = await doctor.post(f"{ROOMS}/create-room", json={"duration": 30})
    assert missing.status_code == 422 and missing.json()["error"]["code"] == "INVALID"
    too_long = await doctor.post(f"{ROOMS}/create-room", json={**body, "duration": 61})
    assert too_long.status_code == 422
    unknown = await doctor.post(f"{ROOMS}/create-room", json={"appointmentId": str(uuid.uuid4())})
    assert unknown.status_code == 404


async def test_eleventh_room_in_a_day_is_rate_limited(world: World) -> None:
    _patient, doctor, conversation = await world.consultation()
    for _ in range(10):
        await doctor.creates_room(conversation)
    response = await doctor.post(f"{ROOMS}/create-room", json={"conversationId": conversation})
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "RATE_LIMITED"
    assert 86_000 < int(response.headers["Retry-After"]) <= 86_400


# --- the state machine --------------------------------------------------------------------


async def test_join_starts_the_call_and_end_reports_duration_once(world: World) -> None:
    patient, doctor, room = await world.video_consultation()
    room_id = room["roomId"]
    patient_socket, doctor_socket = await patient.connects(), await doctor.connects()

    joined = await doctor.joins_room(room_id, hasCamera=True, hasMicrophone=False)
    assert joined["status"] == "WAITING"
    assert joined["participants"] == [
        {
            "userId": str(doctor.id),
            "name": doctor.name,
            "role": "DOCTOR",
            "isVideoOn": True,
            "isAudioOn": False,
            "admitted": True,
        }
    ]
    assert await patient_socket.events.next("participant_joined") == {
        "roomId": room_id,
        "userId": str(doctor.id),
        "userName": doctor.name,
        "role": "DOCTOR",
    }
    joined = await patient.joins_room(room_id)
    assert joined["status"] == "IN_PROGRESS"
    assert [p["role"] for p in joined["participants"]] == ["DOCTOR", "PATIENT"]
    assert (await doctor_socket.events.next("participant_joined"))["userId"] == str(patient.id)
    for socket_ in (patient_socket, doctor_socket):
        started = await socket_.events.next("call_started")
        assert started["roomId"] == room_id and _close_to(started["startedAt"], datetime.now(UTC))
    # A repeated join (a reloaded page) changes no state; it is announced so that the other
    # side renegotiates with the new page's peer connection (issue 17).
    again = await doctor.joins_room(room_id)
    assert again["status"] == "IN_PROGRESS"
    assert (await patient_socket.events.next("participant_joined"))["userId"] == str(doctor.id)
    await patient_socket.events.none("call_started", within=0.2)

    ended = await patient.ends_call(room_id)
    assert ended["recording"] == {"available": False, "url": None}
    assert 0 <= ended["duration"] <= 5
    for socket_ in (patient_socket, doctor_socket):
        event = await socket_.events.next("call_ended")
        assert event["roomId"] == room_id and event["reason"] == "ended_by_guest"
        assert event["duration"] == ended["duration"] and _close_to(
            event["endedAt"], datetime.now(UTC)
        )
    assert await doctor.ends_call(room_id) == ended  # twice is harmless: same answer
    await doctor_socket.events.none("call_ended", within=0.2)
    late_join = await patient.post(f"{ROOMS}/rooms/{room_id}/join", json={})
    assert late_join.status_code == 409 and late_join.json()["error"]["code"] == "CALL_ENDED"
    assert (await patient.get(f"{ROOMS}/rooms/{room_id}/token")).status_code == 409


async def test_ending_before_both_joined_cancels_the_room(world: World, server: LiveServer) -> None:
    patient, doctor, room = await world.video_consultation()
    patient_socket = await patient.connects()
    await doctor.joins_room(room["roomId"])
    assert (await doctor.ends_call(room["roomId"]))["duration"] == 0
    event = await patient_socket.events.next("call_ended")
    assert event["reason"] == "cancelled" and event["duration"] == 0
    rows = await server.sql(
        "SELECT status, end_reason FROM video_call_rooms WHERE room_name = :n", n=room["roomName"]
    )
    assert [tuple(r) for r in rows] == [("CANCELLED", "cancelled")]


async def test_room_opens_shortly_before_its_scheduled_time(world: World) -> None:
    patient, doctor, conversation = await world.consultation()
    later = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    room = await doctor.creates_room(conversation, scheduledTime=later)
    early = await patient.post(f"{ROOMS}/rooms/{room['roomId']}/join", json={})
    assert early.status_code == 409 and early.json()["error"]["code"] == "TOO_EARLY"
    assert (await patient.room_token(room["roomId"]))["accessToken"]
    soon = (datetime.now(UTC) + timedelta(minutes=10)).isoformat()  # within the 15 early minutes
    room = await doctor.creates_room(conversation, scheduledTime=soon)
    assert (await patient.joins_room(room["roomId"]))["status"] == "WAITING"
    past = (datetime.now(UTC) - timedelta(hours=2)).isoformat()
    response = await doctor.post(
        f"{ROOMS}/create-room", json={"conversationId": conversation, "scheduledTime": past}
    )
    assert response.status_code == 422


async def test_token_carries_ice_configuration_and_the_callers_own_token(
    world: World, server: LiveServer
) -> None:
    patient, _doctor, room = await world.video_consultation()
    token = await patient.room_token(room["roomId"])
    assert token["provider"] == "p2p" and token["roomName"] == room["roomName"]
    claims = verify_room_token(token["accessToken"], server.settings.room_token_secret)
    assert claims["sub"] == str(patient.id) and claims["host"] is False
    # No MEDTALK_PUBLIC_URL: a relative link, and no (unchecked) room token in it.
    assert token["joinUrl"] == room["joinUrl"] == f"/call/{room['roomId']}"
    assert token["configuration"] == {"stunServers": [], "turnServers": []}  # none configured


# --- permissions and signaling ------------------------------------------------------------


async def test_stranger_cannot_get_token_join_signal_or_end(world: World) -> None:
    patient, doctor, room = await world.video_consultation()
    room_id = room["roomId"]
    await doctor.joins_room(room_id)
    await patient.joins_room(room_id)
    patient_socket, doctor_socket = await patient.connects(), await doctor.connects()
    for stranger in (await world.patient("Người lạ"), await world.doctor("BS. Lạ")):
        assert (await stranger.get(f"{ROOMS}/rooms/{room_id}/token")).status_code == 404
        assert (await stranger.post(f"{ROOMS}/rooms/{room_id}/join", json={})).status_code == 404
        assert (await stranger.put(f"{ROOMS}/rooms/{room_id}/end")).status_code == 404
        socket_ = await stranger.connects()
        for event, body in (
            ("offer", {"roomId": room_id, "sdp": SDP}),
            ("ice_candidate", {"roomId": room_id, "candidate": CANDIDATE}),
            ("hangup", {"roomId": room_id}),
            (
                "call_stats",
                {
                    "roomId": room_id,
                    "bitrateKbps": 1,
                    "packetLossPct": 0,
                    "rttMs": 1,
                    "framesPerSecond": 1,
                    "width": 1,
                    "height": 1,
                },
            ),
        ):
            ack = await socket_.call(event, body)
            assert ack["error"]["code"] == "NOT_FOUND", (event, ack)
    await patient_socket.events.none("offer", within=0.2)
    await doctor_socket.events.none("ice_candidate", within=0.1)
    await doctor_socket.events.none("call_ended", within=0.1)
    admin = await world.admin()
    assert (await admin.room_token(room_id))["accessToken"]
    unknown = await patient.get(f"{ROOMS}/rooms/{uuid.uuid4()}/token")
    assert unknown.status_code == 404
    assert (await patient.get(f"{ROOMS}/rooms/not-a-uuid/token")).status_code == 422


async def test_signals_are_relayed_only_between_joined_participants(world: World) -> None:
    patient, doctor, room = await world.video_consultation()
    room_id = room["roomId"]
    patient_socket, doctor_socket = await patient.connects(), await doctor.connects()
    await doctor.joins_room(room_id)
    alone = await doctor_socket.call("offer", {"roomId": room_id, "sdp": SDP})
    assert alone == {"roomId": room_id, "relayed": 0}  # the patient has not joined yet
    not_joined = await patient_socket.call(
        "answer", {"roomId": room_id, "sdp": {**SDP, "type": "answer"}}
    )
    assert not_joined["error"]["code"] == "NOT_JOINED"
    await doctor_socket.events.none("answer", within=0.2)
    await patient.joins_room(room_id)

    assert (await doctor_socket.call("offer", {"roomId": room_id, "sdp": SDP}))["relayed"] == 1
    assert await patient_socket.events.next("offer") == {
        "roomId": room_id,
        "fromUserId": str(doctor.id),
        "sdp": SDP,
    }
    answer = {"type": "answer", "sdp": "v=0\r\n"}
    await patient_socket.call("answer", {"roomId": room_id, "sdp": answer})
    assert (await doctor_socket.events.next("answer"))["sdp"] == answer
    await patient_socket.call("ice_candidate", {"roomId": room_id, "candidate": CANDIDATE})
    assert await doctor_socket.events.next("ice_candidate") == {
        "roomId": room_id,
        "fromUserId": str(patient.id),
        "candidate": CANDIDATE,
    }
    await doctor_socket.events.none("offer", within=0.1)  # never echoed to the sender

    huge_sdp = {"roomId": room_id, "sdp": {"type": "offer", "sdp": "a" * (20 * 1024 + 1)}}
    assert (await doctor_socket.call("offer", huge_sdp))["error"]["code"] == "INVALID"
    huge_candidate = {"roomId": room_id, "candidate": {**CANDIDATE, "candidate": "c" * 2049}}
    assert (await doctor_socket.call("ice_candidate", huge_candidate))["error"]["code"] == "INVALID"
    assert (await doctor_socket.call("offer", "nonsense"))["error"]["code"] == "INVALID"
    await patient_socket.events.none("offer", within=0.2)

    ack = await doctor_socket.call("hangup", {"roomId": room_id})
    assert set(ack) == {"duration", "recording"}
    assert await patient_socket.events.next("hangup") == {
        "roomId": room_id,
        "fromUserId": str(doctor.id),
    }
    assert (await patient_socket.events.next("call_ended"))["reason"] == "ended_by_host"
    after = await doctor_socket.call("offer", {"roomId": room_id, "sdp": SDP})
    assert after["error"]["code"] == "CALL_ENDED"


async def test_a_dropped_socket_is_reconnecting_and_a_rejoin_renegotiates(world: World) -> None:
    """Closing the last socket is not leaving (reload, network change): the other side hears
    `participant_reconnecting`, then `participant_reconnected` when a socket is back, and a
    page joining the running call again (a reload) is announced with `participant_joined`
    so the other side renegotiates. The call stays IN_PROGRESS throughout."""
    patient, doctor, room = await world.video_consultation()
    doctor_socket = await doctor.connects()
    patient_socket = await patient.connects()
    await doctor.joins_room(room["roomId"])
    await patient.joins_room(room["roomId"])
    await patient_socket.close()
    who = {
        "roomId": room["roomId"],
        "userId": str(patient.id),
        "userName": patient.name,
        "role": "PATIENT",
    }
    assert await doctor_socket.events.next("participant_reconnecting") == who
    await patient.connects()
    assert await doctor_socket.events.next("participant_reconnected") == who
    await doctor_socket.events.none("participant_left", within=0.3)
    rejoined = await patient.joins_room(room["roomId"])
    assert rejoined["status"] == "IN_PROGRESS" and len(rejoined["participants"]) == 2
    assert rejoined["startedAt"] is not None
    assert await doctor_socket.events.next("participant_joined") == who


async def test_call_stats_are_stored_and_scored(world: World, server: LiveServer) -> None:
    patient, doctor, room = await world.video_consultation()
    await doctor.joins_room(room["roomId"])
    socket_ = await doctor.connects()
    perfect = {"roomId": room["roomId"], **PERFECT_STATS}
    assert (await socket_.call("call_stats", perfect))["qualityScore"] == 100
    poor = {
        **perfect,
        "bitrateKbps": 300,
        "packetLossPct": 4,
        "rttMs": 450,
        "framesPerSecond": 10,
        "width": 320,
        "height": 240,
    }
    poor_score = (await socket_.call("call_stats", poor))["qualityScore"]
    assert 0 < poor_score < 40
    invalid = await socket_.call("call_stats", {**perfect, "packetLossPct": 101})
    assert invalid["error"]["code"] == "INVALID"
    rows = await server.sql(
        "SELECT s.quality_score FROM call_stats s JOIN video_call_rooms r ON r.id = s.room_id "
        "WHERE r.room_name = :n ORDER BY s.reported_at",
        n=room["roomName"],
    )
    assert [r[0] for r in rows] == [100, poor_score]
    patient_socket = await patient.connects()
    not_joined = await patient_socket.call("call_stats", {**perfect})
    assert not_joined["error"]["code"] == "NOT_JOINED"


# --- servers with other settings ----------------------------------------------------------


@pytest.fixture(scope="module")
def short_call_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("medtalk-short-calls")


@pytest.fixture(scope="module")
def short_call_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="module")
def short_call_server(short_call_dir: Path, short_call_clock: FakeClock) -> Iterator[LiveServer]:
    """Calls end after 1.5 seconds of the test's clock (the setting accepts fractions)."""
    with start_server(
        short_call_dir,
        "",
        backend="sqlite",
        clock=short_call_clock,
        call_max_duration_minutes=0.025,
    ) as live:
        yield live


async def test_server_ends_a_call_at_its_maximum_duration(
    short_call_server: LiveServer, short_call_clock: FakeClock
) -> None:
    async with World(short_call_server) as world:
        patient, doctor, room = await world.video_consultation()
        patient_socket, doctor_socket = await patient.connects(), await doctor.connects()
        await doctor.joins_room(room["roomId"])
        await patient.joins_room(room["roomId"])
        await doctor_socket.events.next("call_started")
        short_call_clock.advance(1.4)
        await doctor_socket.events.none("call_ended", within=0.3)  # not quite yet
        short_call_clock.advance(0.6)
        for socket_ in (doctor_socket, patient_socket):
            ended = await socket_.events.next("call_ended")
            assert ended["reason"] == "max_duration" and ended["roomId"] == room["roomId"]
        assert ended["duration"] == 2  # by the clock: the enforcer woke when it passed 1.5 s
        assert (await doctor.ends_call(room["roomId"]))["duration"] == 2


def test_max_duration_is_enforced_after_a_restart(tmp_path: Path) -> None:
    """The call starts on one server process; a new one, started after the deadline, ends it."""

    async def start_call(live: LiveServer) -> str:
        async with World(live) as world:
            patient, doctor, room = await world.video_consultation()
            await doctor.joins_room(room["roomId"])
            await patient.joins_room(room["roomId"])
            return str(room["roomName"])

    async def final_state(live: LiveServer, room_name: str) -> tuple[str, str]:
        query = "SELECT status, end_reason FROM video_call_rooms WHERE room_name = :n"
        for _ in range(100):
            rows = await live.sql(query, n=room_name)
            if rows[0][0] != "IN_PROGRESS":
                break
            await asyncio.sleep(0.05)  # the new process's enforcer: seen in the database
        return tuple(rows[0])  # type: ignore[return-value]

    clock = FakeClock()
    settings = {"backend": "sqlite", "call_max_duration_minutes": 0.02, "clock": clock}
    with start_server(tmp_path, "", **settings) as first:
        room_name = asyncio.run(start_call(first))
    clock.advance(60)  # the 1.2 s deadline passes while no server runs
    with start_server(tmp_path, "", **settings) as second:
        assert asyncio.run(final_state(second, room_name)) == ("ENDED", "max_duration")


JITSI = {
    "video_provider": "jitsi",
    "jitsi_domain": "Meet.Example.org",
    "jitsi_app_id": "medtalk-test",
    "jitsi_app_secret": "test-only-jitsi-secret-0123456789abcdef",
    "turn_secret": "test-only-turn-secret",
    "turn_urls": ["turn:127.0.0.1:3478?transport=udp", "turns:turn.example.org:5349"],
    "stun_urls": ["stun:127.0.0.1:3478"],
}


@pytest.fixture(scope="module")
def jitsi_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with start_server(tmp_path_factory.mktemp("jitsi"), "", backend="sqlite", **JITSI) as live:
        yield live


async def test_jitsi_provider_issues_tokens_jitsi_accepts(jitsi_server: LiveServer) -> None:
    async with World(jitsi_server) as world:
        patient, doctor, room = await world.video_consultation()
        assert room["provider"] == "jitsi"
        assert room["joinUrl"] == f"https://Meet.Example.org/{room['roomName']}"
        for token, person, moderator in (
            (room["hostToken"], doctor, True),
            (room["guestToken"], patient, False),
        ):
            claims = jwt.decode(
                token,
                JITSI["jitsi_app_secret"],
                algorithms=["HS256"],
                audience="jitsi",
                issuer="medtalk-test",
                options={"require": ["aud", "iss", "sub", "room", "exp", "nbf"]},
            )
            assert claims["sub"] == "meet.example.org" and claims["room"] == room["roomName"]
            assert claims["context"]["user"] == {
                "id": str(person.id),
                "name": person.name,
                "moderator": moderator,
            }
            assert claims["nbf"] <= time.time() < claims["exp"]
        token = await patient.room_token(room["roomId"])
        assert token["provider"] == "jitsi"
        assert token["joinUrl"] == f"{room['joinUrl']}?jwt={token['accessToken']}"
        config = token["configuration"]
        assert config["stunServers"] == JITSI["stun_urls"]
        assert [t["urls"] for t in config["turnServers"]] == JITSI["turn_urls"]
        turn = config["turnServers"][0]
        expiry, user = turn["username"].split(":")
        assert user == str(patient.id) and int(expiry) > time.time() + 30 * 60
        digest = hmac.new(b"test-only-turn-secret", turn["username"].encode(), hashlib.sha1)
        assert turn["credential"] == base64.b64encode(digest.digest()).decode()
        assert (await patient.joins_room(room["roomId"]))["status"] == "WAITING"


async def test_call_metrics_move_with_the_call(world: World) -> None:
    """Setup attempts, started calls, active calls and quality scores reach /metrics."""
    before = await world.metrics()
    patient, doctor, room = await world.video_consultation()
    await doctor.joins_room(room["roomId"])
    await patient.joins_room(room["roomId"])
    during = await world.metrics()
    socket_ = await patient.connects()
    ack = await socket_.call("call_stats", {"roomId": room["roomId"], **PERFECT_STATS})
    assert ack["qualityScore"] > 90
    await doctor.ends_call(room["roomId"])
    after = await world.metrics()

    def grew(name: str, first: Metrics, second: Metrics) -> float:
        return float(second.value(name, provider="p2p") - first.value(name, provider="p2p"))

    assert grew("medtalk_call_setup_attempts_total", before, during) == 1
    assert grew("medtalk_calls_started_total", before, during) == 1
    assert grew("medtalk_video_calls_active", before, during) == 1
    assert grew("medtalk_video_calls_active", during, after) == -1
    quality = "medtalk_call_quality_score_count"
    assert after.value(quality) - during.value(quality) == 1


async def test_unanswered_calls_are_not_failures_and_media_failures_are(world: World) -> None:
    """The spec's failure alert must measure broken calls, not patients who did not answer:
    declined and expired calls go to medtalk_calls_unanswered_total, and an ICE failure a
    participant reports after joining goes to medtalk_video_call_failures_total (once)."""
    before = await world.metrics()
    patient, _doctor, declined = await world.video_consultation()
    await patient.ends_call(declined["roomId"])  # the patient declines the ringing call
    _, other_doctor, cancelled = await world.video_consultation()
    await other_doctor.ends_call(cancelled["roomId"])  # the doctor gives up before an answer
    call = await world.call_in_progress()
    report = {"roomId": call.room_id, "reason": "ice_failed"}
    assert (await call.patient_socket.call("call_failure", report))["counted"] is True
    assert (await call.patient_socket.call("call_failure", report))["counted"] is False
    bad = await call.patient_socket.call("call_failure", {**report, "reason": "boom"})
    assert bad["error"]["code"] == "INVALID"
    after = await world.metrics()

    def grew(name: str, **labels: str) -> float:
        return float(
            after.value(name, provider="p2p", **labels)
            - before.value(name, provider="p2p", **labels)
        )

    assert grew("medtalk_calls_unanswered_total", reason="declined") == 1
    assert grew("medtalk_calls_unanswered_total", reason="cancelled") == 1
    assert grew("medtalk_video_call_failures_total", reason="ice_failed") == 1


async def test_a_patient_who_was_offline_finds_the_waiting_call(world: World) -> None:
    """`call_incoming` went to nobody (no socket); GET /rooms lets the patient still answer."""
    patient, doctor, room = await world.video_consultation()
    listed = await patient.get("/api/v1/video-call/rooms")
    assert listed.status_code == 200
    (waiting,) = listed.json()["rooms"]
    assert waiting["roomId"] == room["roomId"]
    assert waiting["callerName"] == doctor.name and waiting["status"] == "WAITING"
    stranger = await world.patient("Người lạ")
    assert (await stranger.get("/api/v1/video-call/rooms")).json()["rooms"] == []
    await doctor.ends_call(room["roomId"])
    assert (await patient.get("/api/v1/video-call/rooms")).json()["rooms"] == []


async def test_room_access_is_audited(world: World) -> None:
    patient, doctor, room = await world.video_consultation()
    await patient.room_token(room["roomId"])
    await patient.joins_room(room["roomId"])
    await doctor.ends_call(room["roomId"])
    rows = await world.server.audit_rows(object_id=room["roomId"])
    actions = [(row.action, row.outcome) for row in rows]
    assert ("room.create", "ok") in actions
    assert ("room.token", "ok") in actions and ("room.join", "ok") in actions
    assert ("room.end", "ok") in actions


# --- call history in the conversation (issue 17) -------------------------------------------


def _call_messages(page: dict[str, Any]) -> list[dict[str, Any]]:
    return [m for m in page["messages"] if m["contentType"] == "CALL"]


async def test_a_declined_call_is_a_missed_call_message_in_both_histories(world: World) -> None:
    patient, doctor, conversation = await world.consultation("Chào bác sĩ")
    patient_socket = await patient.connects()
    await patient_socket.join(conversation)
    room = await doctor.creates_room(conversation)
    await patient.ends_call(room["roomId"])  # declined
    delivered = await patient_socket.events.next("message_received")
    assert delivered["contentType"] == "CALL" and delivered["senderId"] == str(doctor.id)
    assert json.loads(delivered["content"]) == {
        "outcome": "declined",
        "durationSeconds": 0,
        "roomId": room["roomId"],
    }
    for person in (patient, doctor):
        (message,) = _call_messages(await person.history(conversation))
        assert message["id"] == delivered["id"]
    # Unread for the patient, like any message from the doctor.
    (summary,) = (await patient.conversations())["conversations"]
    assert summary["unreadCount"] == 1 and summary["lastMessage"]["content"] == delivered["content"]
    # Ending again writes nothing more; clients cannot send CALL messages themselves.
    await doctor.ends_call(room["roomId"])
    assert len(_call_messages(await doctor.history(conversation))) == 1
    forged = await patient.post(
        "/api/v1/chat/messages/send",
        json={"conversationId": conversation, "content": "{}", "contentType": "CALL"},
    )
    assert forged.status_code == 422


async def test_a_finished_call_leaves_its_duration_in_the_conversation(world: World) -> None:
    call = await world.call_in_progress()
    await call.doctor.ends_call(call.room_id)
    conversation = call.room["conversationId"]

    async def written() -> bool:  # by the record_call job, just after the end commits
        return bool(_call_messages(await call.patient.history(conversation)))

    await eventually(written, 10, "the call's message in the conversation")
    (message,) = _call_messages(await call.patient.history(conversation))
    record = json.loads(message["content"])
    assert record["outcome"] == "ended" and record["roomId"] == call.room_id
    assert record["durationSeconds"] >= 0
