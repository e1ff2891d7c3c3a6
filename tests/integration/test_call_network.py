"""Calls under a bad network (issue 17): two aiortc peers with ICE forced to relay through a
real coturn; the patient reaches coturn through a user-space UDP impairer (tests/faults.py:
this kernel has no netem) that first passes everything, then drops 5 % of the datagrams and
delays the rest by 100 ms each way, then cuts the path for 5 s.

The figures (time to recover, frames per second, the server's quality score for each phase)
are printed (run with -s) and kept in test-artifacts/call-impairment.txt; bench/README.md,
"Calls under impairment", has a run of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy
from aiortc import (
    RTCConfiguration,
    RTCIceServer,
    RTCIceTransportPolicy,
    RTCPeerConnection,
    VideoStreamTrack,
)
from av import VideoFrame
from test_calls_webrtc import (  # noqa: F401 - fixtures, used by name
    FRAMES_WANTED,
    Peer,
    coturn,
    loopback_host_candidates,
    turn_server,
)

from faults import Coturn, UdpImpairer, udp_impairer
from medtalk.calls.quality import CallSample, quality_score
from world import LiveServer, Person, World

LOSS = 0.05
DELAY = 0.100  # seconds, each way
OUTAGE = 5.0
WINDOW = 6.0  # seconds measured per phase
RECOVERY_LIMIT = 30.0
SMOOTH_FPS = 15  # frames in one second: half the camera's 30, "the call is back"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@dataclass
class TimedPeer(Peer):
    """A peer that remembers when each remote frame was decoded, and its size."""

    frame_times: list[float] = field(default_factory=list)
    size: tuple[int, int] = (0, 0)

    async def _count_frames(self, track: Any) -> None:
        with contextlib.suppress(Exception):
            while True:
                frame = await track.recv()
                now = time.monotonic()
                self.frame_times.append(now)
                self.size = (frame.width, frame.height)
                self.frames += 1
                if self.first_frame_at is None:
                    self.first_frame_at = now
                if self.frames > FRAMES_WANTED:
                    self.got_frames.set()

    def fps(self, start: float, end: float) -> float:
        return sum(start <= at < end for at in self.frame_times) / (end - start)

    def smooth_again(self, since: float, now: float) -> float | None:
        """When video became smooth again after `since`: the first decoded frame that starts
        a second of at least SMOOTH_FPS frames (stale frames still in flight do not count)."""
        times = [at for at in self.frame_times if at >= since]
        for index, start in enumerate(times):
            if start + 1 > now:
                return None
            if sum(at < start + 1 for at in times[index:]) >= SMOOTH_FPS:
                return start
        return None


@dataclass
class Counters:
    at: float
    received: int
    lost: int
    bytes: int
    rtt_ms: float


@dataclass
class Phase:
    name: str
    fps: float
    sample: CallSample
    score: int

    def line(self, side: str) -> str:
        s = self.sample
        return (
            f"{self.name}, {side} receives: {self.fps:.1f} fps, {s.bitrate_kbps:.0f} kbps, "
            f"loss {s.packet_loss_pct:.1f} %, RTT {s.rtt_ms:.0f} ms, {s.width}x{s.height}, "
            f"quality score {self.score}"
        )


class MovingPicture(VideoStreamTrack):  # type: ignore[misc]
    """640x480 at 30 fps of a pattern sliding sideways: unlike aiortc's flat green test
    picture it costs the encoder real bits (hundreds of kbps), like a camera does."""

    def __init__(self) -> None:
        super().__init__()
        # 16x16 blocks of random grey on the luma plane, neutral chroma: textured like a scene,
        # compressible like one (pure random noise costs ~10 Mbps and stalls the encoder).
        blocks = numpy.random.default_rng(7).integers(16, 236, (30, 40), numpy.uint8)
        luma = blocks.repeat(16, axis=0).repeat(16, axis=1)
        chroma = numpy.full((240, 640), 128, numpy.uint8)
        self._pattern = numpy.concatenate([luma, chroma])
        self._shift = 0

    async def recv(self) -> Any:
        pts, time_base = await self.next_timestamp()
        self._shift = (self._shift + 4) % 640
        frame = VideoFrame.from_ndarray(
            numpy.roll(self._pattern, self._shift, axis=1), format="yuv420p"
        )
        frame.pts, frame.time_base = pts, time_base
        return frame


async def _peer(person: Person, room_id: str, turn_url: str) -> TimedPeer:
    socket_ = await person.connects()
    token = await person.room_token(room_id)
    [turn] = token["configuration"]["turnServers"]  # our TURN REST credentials
    server = RTCIceServer(urls=turn_url, username=turn["username"], credential=turn["credential"])
    pc = RTCPeerConnection(
        RTCConfiguration(iceServers=[server], iceTransportPolicy=RTCIceTransportPolicy.RELAY)
    )
    peer = TimedPeer(person, socket_, room_id, pc)
    pc.addTrack(MovingPicture())

    @pc.on("track")
    def _on_track(track: Any) -> None:
        peer._tasks.append(asyncio.create_task(peer._count_frames(track)))

    return peer


async def _connect(doctor: TimedPeer, patient: TimedPeer) -> None:
    """Join (the doctor first, so the patient is let in at once) and negotiate; the doctor
    offers, as the call contract says."""
    await doctor.joins()
    assert (await patient.joins())["status"] == "IN_PROGRESS"

    async def doctor_side() -> None:
        await doctor.pc.setLocalDescription(await doctor.pc.createOffer())
        await doctor.send_description("offer")
        await doctor.receive_description("answer")
        await doctor.receive_candidates()

    async def patient_side() -> None:
        await patient.receive_description("offer")
        await patient.receive_candidates()
        await patient.pc.setLocalDescription(await patient.pc.createAnswer())
        await patient.send_description("answer")

    await asyncio.wait_for(asyncio.gather(doctor_side(), patient_side()), 60)
    await asyncio.wait_for(asyncio.gather(doctor.got_frames.wait(), patient.got_frames.wait()), 60)


async def _counters(peer: TimedPeer) -> Counters:
    received = lost = size = 0
    rtt = 0.0
    for stat in (await peer.pc.getStats()).values():
        if stat.type == "inbound-rtp" and stat.kind == "video":
            received, lost = stat.packetsReceived, max(0, stat.packetsLost)
        elif stat.type == "transport":
            size = stat.bytesReceived
        elif stat.type == "remote-inbound-rtp" and stat.kind == "video":
            rtt = (stat.roundTripTime or 0.0) * 1000
    return Counters(time.monotonic(), received, lost, size, rtt)


async def _measure(name: str, peers: list[TimedPeer], impairer: UdpImpairer) -> list[Phase]:
    """Each peer's receiving side over WINDOW seconds, scored by the server (`call_stats`)."""
    before = [await _counters(peer) for peer in peers]
    passed, dropped = impairer.forwarded, impairer.dropped
    await asyncio.sleep(WINDOW)  # media flows meanwhile; there is no event to wait for
    passed, dropped = impairer.forwarded - passed, impairer.dropped - dropped
    name += f" [impairer dropped {100 * dropped / max(1, passed + dropped):.1f} %]"
    phases = []
    for peer, first in zip(peers, before, strict=True):
        last = await _counters(peer)
        seconds = last.at - first.at
        received = last.received - first.received
        # RTP's cumulative loss is expected minus received (RFC 3550), so it falls when NACKed
        # packets arrive late: over a window it can go down, and a loss is never below zero.
        lost = max(0, last.lost - first.lost)
        sample = CallSample(
            bitrate_kbps=round((last.bytes - first.bytes) * 8 / 1000 / seconds, 1),
            packet_loss_pct=round(100 * lost / max(1, received + lost), 1),
            rtt_ms=round(last.rtt_ms, 1),
            frames_per_second=round(peer.fps(first.at, last.at), 1),
            width=peer.size[0],
            height=peer.size[1],
        )
        ack = await peer.socket.call(
            "call_stats",
            {
                "roomId": peer.room_id,
                "bitrateKbps": sample.bitrate_kbps,
                "packetLossPct": sample.packet_loss_pct,
                "rttMs": sample.rtt_ms,
                "framesPerSecond": sample.frames_per_second,
                "width": sample.width,
                "height": sample.height,
            },
        )
        assert ack.get("qualityScore") == quality_score(sample), ack
        phases.append(Phase(name, sample.frames_per_second, sample, ack["qualityScore"]))
    return phases


def _record(lines: list[str]) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    with (ARTIFACTS / "call-impairment.txt").open("a") as out:
        for line in lines:
            print(f"\n[impairment] {line}")
            out.write(line + "\n")


async def _recovered(peers: list[TimedPeer], since: float) -> list[float]:
    """Seconds from `since` until each peer's received video is smooth again."""
    deadline = since + RECOVERY_LIMIT
    while (now := time.monotonic()) < deadline:
        smooth = [peer.smooth_again(since, now) for peer in peers]
        if all(at is not None for at in smooth):
            return [at - since for at in smooth if at is not None]
        await asyncio.sleep(0.1)  # frames arrive on their own; this only samples them
    raise AssertionError(f"video not smooth {RECOVERY_LIMIT:.0f} s after the outage ended")


async def test_a_relayed_call_recovers_from_loss_delay_and_an_outage(
    turn_server: LiveServer,  # noqa: F811 - the fixture imported above
    coturn: Coturn,  # noqa: F811
) -> None:
    with udp_impairer(coturn.port) as impairer:
        async with World(turn_server) as world:
            await _impaired_call(world, coturn, impairer)


async def _impaired_call(world: World, turn: Coturn, impairer: UdpImpairer) -> None:
    patient, doctor, room = await world.video_consultation()
    room_id = room["roomId"]
    doctor_peer = await _peer(doctor, room_id, turn.url)
    patient_url = f"turn:127.0.0.1:{impairer.port}?transport=udp"
    patient_peer = await _peer(patient, room_id, patient_url)
    peers = [patient_peer, doctor_peer]
    sides = ["patient", "doctor"]
    try:
        await _connect(doctor_peer, patient_peer)
        for peer in peers:  # ICE was forced to relay: every candidate is a coturn allocation
            assert peer.sent_candidates and all(" typ relay" in c for c in peer.sent_candidates)
        clean = await _measure("relay, clean path", peers, impairer)

        impairer.loss, impairer.delay = LOSS, DELAY
        await asyncio.sleep(2)  # let congestion control settle on the worse path
        impaired = await _measure("relay, 5 % loss + 100 ms each way", peers, impairer)

        cut_at = time.monotonic()
        impairer.outage(OUTAGE)
        await asyncio.sleep(OUTAGE)  # the outage is timed; nothing to await
        back_at = cut_at + OUTAGE
        during = [peer.fps(cut_at + 1, back_at) for peer in peers]
        recovery = await _recovered(peers, back_at)
        await asyncio.sleep(1)  # past the burst of frames decoded late
        after = await _measure("after the 5 s outage (still 5 % + 100 ms)", peers, impairer)
        seconds_after = int(time.monotonic() - back_at)
        timeline = [
            " ".join(f"{peer.fps(back_at + i, back_at + i + 1):.0f}" for i in range(seconds_after))
            for peer in peers
        ]

        lines = [
            phase.line(side)
            for phases in (clean, impaired, after)
            for phase, side in zip(phases, sides, strict=True)
        ]
        lines += [
            f"5 s outage: {side} receives {fps:.1f} fps during it; smooth again (>= "
            f"{SMOOTH_FPS} frames in a second) {seconds:.1f} s after the path is back; "
            f"fps in each second after it: {bins}"
            for side, fps, seconds, bins in zip(sides, during, recovery, timeline, strict=True)
        ]
        lines.append(f"impairer: {impairer.forwarded} datagrams passed, {impairer.dropped} dropped")
        _record(lines)

        assert impairer.dropped > 0 and all(fps < 1 for fps in during)
        assert all(seconds < RECOVERY_LIMIT for seconds in recovery)
        for phase in after:  # the call is back, not just a frame or two
            assert phase.fps >= 5, phase
            assert phase.score > 0, phase
        assert (await patient.get("/api/v1/video-call/rooms")).json()["rooms"][0][
            "status"
        ] == "IN_PROGRESS"
        ack = await doctor_peer.socket.call("hangup", {"roomId": room_id})
        assert ack["duration"] >= OUTAGE
    finally:
        for peer in peers:
            await peer.close()
