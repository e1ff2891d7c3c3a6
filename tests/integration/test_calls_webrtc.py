"""Real WebRTC calls: two aiortc peers (doctor and patient) signal through our Socket.IO relay
and receive each other's video frames, once directly and once only through a real coturn.

The host candidate list is pinned to 127.0.0.1 (aioice skips loopback by default) so the test
stays on loopback; nothing else about the peers is simulated.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from faults import Coturn, start_coturn
from world import LiveServer, Person, Socket, World, start_server

IN_CI = bool(os.environ.get("CI"))
TURN_SECRET = "test-only-turn-secret-0123456789abcdef"
FRAMES_WANTED = 10
KEEP_RECEIVING_SECONDS = 1.0  # after both passed FRAMES_WANTED, so the frame count means more

try:
    import aioice.ice
    from aiortc import (
        RTCConfiguration,
        RTCIceServer,
        RTCIceTransportPolicy,
        RTCPeerConnection,
        RTCSessionDescription,
        VideoStreamTrack,
    )
    from aiortc.sdp import candidate_from_sdp
except ImportError as exc:  # pragma: no cover - depends on the machine
    if IN_CI:
        raise
    pytest.skip(f"aiortc is not installed: {exc}", allow_module_level=True)


@pytest.fixture(scope="module", autouse=True)
def loopback_host_candidates() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: ["127.0.0.1"])
        yield


# --- coturn -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def coturn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Coturn]:
    """A real coturn on 127.0.0.1 with the service's TURN secret."""
    with start_coturn(tmp_path_factory.mktemp("coturn"), TURN_SECRET) as server:
        yield server


@pytest.fixture(scope="module")
def turn_server(coturn: Coturn, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """medtalk configured to hand out credentials for that coturn."""
    with start_server(
        tmp_path_factory.mktemp("medtalk-turn"),
        "",
        backend="sqlite",
        turn_secret=TURN_SECRET,
        turn_urls=[coturn.url],
    ) as live:
        yield live


# --- a peer: one side of the call ---------------------------------------------------------


@dataclass
class Peer:
    person: Person
    socket: Socket
    room_id: str
    pc: RTCPeerConnection
    joined_at: float = 0.0
    first_frame_at: float | None = None
    frames: int = 0
    sent_candidates: list[str] = field(default_factory=list)
    got_frames: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @classmethod
    async def for_(cls, person: Person, room_id: str, *, relay_only: bool) -> Peer:
        socket_ = await person.connects()
        token = await person.room_token(room_id)
        config = token["configuration"]
        servers = [RTCIceServer(urls=url) for url in config["stunServers"]] + [
            RTCIceServer(urls=t["urls"], username=t["username"], credential=t["credential"])
            for t in config["turnServers"]
        ]
        policy = RTCIceTransportPolicy.RELAY if relay_only else RTCIceTransportPolicy.ALL
        pc = RTCPeerConnection(RTCConfiguration(iceServers=servers, iceTransportPolicy=policy))
        peer = cls(person, socket_, room_id, pc)
        pc.addTrack(VideoStreamTrack())  # aiortc's synthetic video source

        @pc.on("track")
        def _on_track(track: Any) -> None:
            peer._tasks.append(asyncio.create_task(peer._count_frames(track)))

        return peer

    async def _count_frames(self, track: Any) -> None:
        with contextlib.suppress(Exception):
            while True:
                await track.recv()  # a decoded av.VideoFrame
                self.frames += 1
                if self.first_frame_at is None:
                    self.first_frame_at = time.monotonic()
                if self.frames > FRAMES_WANTED:
                    self.got_frames.set()

    async def joins(self) -> dict[str, Any]:
        self.joined_at = time.monotonic()
        return await self.person.joins_room(self.room_id)

    async def send_description(self, kind: str) -> None:
        """Send our SDP without candidates, then trickle each candidate as ice_candidate."""
        description = self.pc.localDescription
        sdp, candidates = _split_candidates(description.sdp)
        ack = await self.socket.call(
            kind, {"roomId": self.room_id, "sdp": {"type": description.type, "sdp": sdp}}
        )
        assert ack.get("relayed") == 1, ack
        for mid, index, line in candidates:
            self.sent_candidates.append(line)
            candidate = {"candidate": line, "sdpMid": mid, "sdpMLineIndex": index}
            ack = await self.socket.call(
                "ice_candidate", {"roomId": self.room_id, "candidate": candidate}
            )
            assert ack.get("relayed") == 1, ack
        end = {
            "candidate": "",
            "sdpMid": candidates[0][0] if candidates else "0",
            "sdpMLineIndex": 0,
        }
        await self.socket.call("ice_candidate", {"roomId": self.room_id, "candidate": end})

    async def receive_description(self, kind: str) -> None:
        event = await self.socket.events.next(kind, timeout=20)
        assert event["roomId"] == self.room_id
        await self.pc.setRemoteDescription(RTCSessionDescription(**event["sdp"]))

    async def receive_candidates(self) -> None:
        while True:
            event = await self.socket.events.next("ice_candidate", timeout=20)
            init = event["candidate"]
            if not init.get("candidate"):
                await self.pc.addIceCandidate(None)
                return
            candidate = candidate_from_sdp(init["candidate"].removeprefix("candidate:"))
            candidate.sdpMid = init.get("sdpMid")
            candidate.sdpMLineIndex = init.get("sdpMLineIndex")
            await self.pc.addIceCandidate(candidate)

    @property
    def setup_seconds(self) -> float:
        assert self.first_frame_at is not None
        return self.first_frame_at - self.joined_at

    async def close(self) -> None:
        await self.pc.close()
        for task in self._tasks:
            task.cancel()


def _split_candidates(sdp: str) -> tuple[str, list[tuple[str, int, str]]]:
    """(SDP without a=candidate / a=end-of-candidates lines, [(mid, m-line index, candidate)])."""
    kept: list[str] = []
    candidates: list[tuple[str, int, str]] = []
    index, mid = -1, "0"
    for line in sdp.splitlines():
        if line.startswith("m="):
            index += 1
        elif line.startswith("a=mid:"):
            mid = line.removeprefix("a=mid:")
        if line.startswith("a=candidate:"):
            candidates.append((mid, index, line.removeprefix("a=")))
            continue
        if line == "a=end-of-candidates":
            continue
        kept.append(line)
    return "\r\n".join(kept) + "\r\n", candidates


async def _video_call(world: World, *, relay_only: bool) -> tuple[Peer, Peer]:
    """Doctor and patient set up a call through our API and signaling; returns both peers."""
    patient, doctor, room = await world.video_consultation()
    room_id = room["roomId"]
    doctor_peer = await Peer.for_(doctor, room_id, relay_only=relay_only)
    patient_peer = await Peer.for_(patient, room_id, relay_only=relay_only)
    await doctor_peer.joins()
    assert (await patient_peer.joins())["status"] == "IN_PROGRESS"
    await doctor_peer.socket.events.next("call_started")

    async def doctor_side() -> None:  # the host offers (call contract: "Who offers")
        await doctor_peer.pc.setLocalDescription(await doctor_peer.pc.createOffer())
        await doctor_peer.send_description("offer")
        await doctor_peer.receive_description("answer")
        await doctor_peer.receive_candidates()

    async def patient_side() -> None:
        await patient_peer.receive_description("offer")
        await patient_peer.receive_candidates()
        await patient_peer.pc.setLocalDescription(await patient_peer.pc.createAnswer())
        await patient_peer.send_description("answer")

    await asyncio.wait_for(asyncio.gather(doctor_side(), patient_side()), 30)
    await asyncio.wait_for(
        asyncio.gather(doctor_peer.got_frames.wait(), patient_peer.got_frames.wait()), 30
    )
    await asyncio.sleep(KEEP_RECEIVING_SECONDS)  # media keeps flowing; nothing to await here
    ack = await doctor_peer.socket.call("hangup", {"roomId": room_id})
    assert ack["duration"] >= 0
    assert (await patient_peer.socket.events.next("call_ended"))["reason"] == "ended_by_host"
    return doctor_peer, patient_peer


def _report(label: str, peers: tuple[Peer, Peer]) -> None:
    for peer in peers:
        print(
            f"\n[calls] {label}: {peer.person.role.value.lower()} setup "
            f"{peer.setup_seconds * 1000:.0f} ms (join to first remote frame), "
            f"{peer.frames} frames received"
        )


async def test_direct_call_carries_video_both_ways(world: World) -> None:
    peers = await _video_call(world, relay_only=False)
    try:
        for peer in peers:
            assert peer.frames > FRAMES_WANTED
            assert peer.sent_candidates and all(" typ host" in c for c in peer.sent_candidates)
            assert all(" 127.0.0.1 " in c for c in peer.sent_candidates)
        _report(f"direct ({world.server.backend})", peers)
    finally:
        for peer in peers:
            await peer.close()


async def test_call_through_coturn_with_our_turn_credentials(
    turn_server: LiveServer, coturn: Coturn
) -> None:
    async with World(turn_server) as world:
        peers = await _video_call(world, relay_only=True)
        try:
            log = coturn.log.read_text()
            for peer in peers:
                assert peer.frames > FRAMES_WANTED
                # Relay-only: every candidate is a coturn allocation made with our credentials.
                assert peer.sent_candidates and all(" typ relay" in c for c in peer.sent_candidates)
                assert f":{peer.person.id}>: incoming packet ALLOCATE processed, success" in log
            _report("relay via coturn", peers)
        finally:
            for peer in peers:
                await peer.close()


async def test_coturn_refuses_credentials_signed_with_another_secret(coturn: Coturn) -> None:
    """The negative control: without our secret, coturn allocates nothing, so no relay path."""
    from datetime import UTC, datetime, timedelta

    from medtalk.calls.providers import turn_credentials

    username, credential = turn_credentials(
        "not-the-turn-secret", "intruder", datetime.now(UTC) + timedelta(minutes=5)
    )
    server = RTCIceServer(urls=coturn.url, username=username, credential=credential)
    pc = RTCPeerConnection(
        RTCConfiguration(iceServers=[server], iceTransportPolicy=RTCIceTransportPolicy.RELAY)
    )
    try:
        pc.addTrack(VideoStreamTrack())
        await pc.setLocalDescription(await pc.createOffer())
        assert "a=candidate:" not in pc.localDescription.sdp
        assert f"user <{username}>: incoming packet message processed, error 401" in (
            coturn.log.read_text()
        )
    finally:
        await pc.close()
