"""Calls under a bad network in Chromium (issue 17): the web client on both sides, ICE forced to
relay through a real coturn, the patient's page reaching coturn through the user-space UDP
impairer (tests/faults.py): clean, then 5 % loss and 100 ms each way, then a 5 s outage.

Chromium's fake camera, the real web client (its ICE restarts, its bitrate caps). Figures are
printed (run with -s) and kept in test-artifacts/call-impairment.txt; bench/README.md, "Calls
under impairment", has a run of them.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import BrowserContext, Page, expect
from test_browser_call_rejoin import video_flows

from conftest import ARTIFACTS
from faults import Coturn, UdpImpairer, start_coturn, udp_impairer
from medtalk.calls.quality import CallSample, quality_score
from world import LiveServer, World, start_server

TURN_SECRET = "test-only-turn-secret-0123456789abcdef"
LOSS = 0.05
DELAY = 0.100  # seconds, each way
OUTAGE = 5.0
WINDOW = 6.0
SMOOTH_FPS = 15  # decoded frames in one second: "the video is back"
RECOVERY_LIMIT = 40.0

# Every peer connection the page makes is relay-only, its TURN port possibly rewritten (the
# patient's goes through the impairer); ICE state changes are kept for the report.
FORCE_RELAY = """
(() => {
  const Native = window.RTCPeerConnection;
  const rewrite = (config) => ({
    ...(config || {}),
    iceTransportPolicy: 'relay',
    iceServers: ((config && config.iceServers) || []).map((server) => ({
      ...server,
      urls: [].concat(server.urls).map((url) => url.replace(':%(turn)d', ':%(via)d')),
    })),
  });
  window.__peerConnections = [];
  window.__ice = [];
  window.RTCPeerConnection = class extends Native {
    constructor(config, ...rest) {
      super(rewrite(config), ...rest);
      window.__peerConnections.push(this);
      this.addEventListener('iceconnectionstatechange',
        () => window.__ice.push([Math.round(performance.now()), this.iceConnectionState]));
    }
    setConfiguration(config) { return super.setConfiguration(rewrite(config)); }
  };
})();
"""

RECEIVED = """async () => {
  const pc = window.__peerConnections.filter((p) => p.connectionState !== 'closed').at(-1);
  const out = { frames: 0, bytes: 0, received: 0, lost: 0, rtt: 0, width: 0, height: 0,
                local: null, score: null, connections: window.__peerConnections.length };
  if (!pc) return out;
  const report = await pc.getStats();
  report.forEach((s) => {
    if (s.type === 'inbound-rtp' && s.kind === 'video') {
      Object.assign(out, { frames: s.framesDecoded || 0, bytes: s.bytesReceived || 0,
        received: s.packetsReceived || 0, lost: Math.max(0, s.packetsLost || 0),
        width: s.frameWidth || 0, height: s.frameHeight || 0 });
    } else if (s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded') {
      out.rtt = (s.currentRoundTripTime || 0) * 1000;
      out.local = report.get(s.localCandidateId)?.candidateType ?? null;
    }
  });
  const shown = document.querySelector('.quality')?.dataset.score;
  out.score = shown ? Number(shown) : null;
  return out;
}"""


@pytest.fixture(scope="module")
def coturn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Coturn]:
    with start_coturn(tmp_path_factory.mktemp("coturn"), TURN_SECRET) as server:
        yield server


@pytest.fixture(scope="module")
def turn_web_server(
    web_build: Path, coturn: Coturn, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    with start_server(
        tmp_path_factory.mktemp("medtalk-web-turn"),
        "",
        backend="sqlite",
        turn_secret=TURN_SECRET,
        turn_urls=[coturn.url],
    ) as live:
        yield live


@dataclass
class Sample:
    at: float
    stats: dict[str, Any]


async def _sample(page: Page) -> Sample:
    return Sample(time.monotonic(), await page.evaluate(RECEIVED))


def _phase(name: str, side: str, first: Sample, last: Sample) -> tuple[str, float, int]:
    seconds = last.at - first.at
    a, b = first.stats, last.stats
    received, lost = b["received"] - a["received"], b["lost"] - a["lost"]
    sample = CallSample(
        bitrate_kbps=round((b["bytes"] - a["bytes"]) * 8 / 1000 / seconds, 1),
        packet_loss_pct=round(100 * max(0, lost) / max(1, received + lost), 1),
        rtt_ms=round(b["rtt"], 1),
        frames_per_second=round((b["frames"] - a["frames"]) / seconds, 1),
        width=b["width"],
        height=b["height"],
    )
    score = quality_score(sample)
    line = (
        f"Chromium, {name}, {side} receives: {sample.frames_per_second:.1f} fps, "
        f"{sample.bitrate_kbps:.0f} kbps, loss {sample.packet_loss_pct:.1f} %, "
        f"RTT {sample.rtt_ms:.0f} ms, {sample.width}x{sample.height}, quality score {score} "
        f"(page shows {b['score']})"
    )
    return line, sample.frames_per_second, score


async def _measure(
    name: str, pages: dict[str, Page], impairer: UdpImpairer
) -> list[tuple[str, float, int]]:
    before = {side: await _sample(page) for side, page in pages.items()}
    passed, dropped = impairer.forwarded, impairer.dropped
    await next(iter(pages.values())).wait_for_timeout(WINDOW * 1000)
    passed, dropped = impairer.forwarded - passed, impairer.dropped - dropped
    name += f" [impairer dropped {100 * dropped / max(1, passed + dropped):.1f} %]"
    return [_phase(name, side, before[side], await _sample(page)) for side, page in pages.items()]


async def _recovery(pages: dict[str, Page], since: float) -> dict[str, float]:
    """Seconds from `since` to the start of each page's first second with SMOOTH_FPS frames."""
    series: dict[str, list[Sample]] = {side: [] for side in pages}
    found: dict[str, float] = {}
    while len(found) < len(pages):
        if time.monotonic() > since + RECOVERY_LIMIT:
            raise AssertionError(f"video not back {RECOVERY_LIMIT:.0f} s after the outage: {found}")
        for side, page in pages.items():
            if side in found:
                continue
            series[side].append(await _sample(page))
            samples = series[side]
            last = samples[-1]
            for start in samples:
                if last.at - start.at < 1.0:
                    break
                frames = last.stats["frames"] - start.stats["frames"]
                if frames >= SMOOTH_FPS * (last.at - start.at):
                    found[side] = max(0.0, start.at - since)
                    break
        await next(iter(pages.values())).wait_for_timeout(200)
    return found


def _record(lines: list[str]) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    with (ARTIFACTS / "call-impairment.txt").open("a") as out:
        for line in lines:
            print(f"\n[impairment] {line}")
            out.write(line + "\n")


@pytest.fixture
async def relayed_contexts(
    browser: Any, coturn: Coturn
) -> AsyncIterator[tuple[BrowserContext, BrowserContext, UdpImpairer]]:
    with udp_impairer(coturn.port) as impairer:
        doctor = await browser.new_context(locale="en-US")
        patient = await browser.new_context(locale="vi-VN")
        await doctor.add_init_script(FORCE_RELAY % {"turn": coturn.port, "via": coturn.port})
        await patient.add_init_script(FORCE_RELAY % {"turn": coturn.port, "via": impairer.port})
        try:
            yield doctor, patient, impairer
        finally:
            await doctor.close()
            await patient.close()


async def test_web_client_call_recovers_from_loss_delay_and_an_outage(
    turn_web_server: LiveServer,
    relayed_contexts: tuple[BrowserContext, BrowserContext, UdpImpairer],
) -> None:
    doctor_context, patient_context, impairer = relayed_contexts
    server = turn_web_server
    async with World(server) as world:
        patient, doctor, conversation = await world.consultation("Chào bác sĩ")
        pages: dict[str, Page] = {}
        for side, person, context in (
            ("patient", patient, patient_context),
            ("doctor", doctor, doctor_context),
        ):
            page = await context.new_page()
            token = server.token(person.id, person.name, person.role)
            await page.goto(f"{server.base_url}/conversations/{conversation}#token={token}")
            await expect(page.locator(".message").first).to_be_visible()
            pages[side] = page
        await pages["doctor"].get_by_role("button", name="Video call").click()
        await (
            pages["patient"]
            .get_by_role("alertdialog")
            .get_by_role("button", name="Trả lời")
            .click()
        )
        for page in pages.values():
            await video_flows(page, timeout_s=60)
        for page in pages.values():  # ICE was forced to relay: the path goes through coturn
            assert (await page.evaluate(RECEIVED))["local"] == "relay"

        clean = await _measure("relay, clean path", pages, impairer)
        impairer.loss, impairer.delay = LOSS, DELAY
        await pages["doctor"].wait_for_timeout(3000)  # congestion control settles
        impaired = await _measure("relay, 5 % loss + 100 ms each way", pages, impairer)

        cut_at = time.monotonic()
        impairer.outage(OUTAGE)
        frames_at_cut = {side: await _sample(page) for side, page in pages.items()}
        await pages["doctor"].wait_for_timeout(OUTAGE * 1000)
        back_at = cut_at + OUTAGE
        frames_at_back = {side: await _sample(page) for side, page in pages.items()}
        recovery = await _recovery(pages, back_at)
        after = await _measure("after the 5 s outage (still 5 % + 100 ms)", pages, impairer)

        lines = [line for phase in (clean, impaired, after) for line, _, _ in phase]
        for side, page in pages.items():
            during = (
                frames_at_back[side].stats["frames"] - frames_at_cut[side].stats["frames"]
            ) / (frames_at_back[side].at - frames_at_cut[side].at)
            ice = await page.evaluate("window.__ice.map(([, state]) => state).join(' > ')")
            connections = (await page.evaluate(RECEIVED))["connections"]
            lines.append(
                f"Chromium, 5 s outage: {side} receives {during:.1f} fps during it; video back "
                f"(>= {SMOOTH_FPS} frames in a second) {recovery[side]:.1f} s after the path "
                f"is back; ICE {ice}; {connections} peer connection(s)"
            )
        _record(lines)

        assert impairer.dropped > 0
        for _, fps, _ in after:
            assert fps >= 5
        rooms = (await doctor.get("/api/v1/video-call/rooms")).json()["rooms"]
        assert [room["status"] for room in rooms] == ["IN_PROGRESS"]
        for side, page in pages.items():
            await expect(page.locator(".call-status")).to_have_text(
                "Connected" if side == "doctor" else "Đã kết nối", timeout=20_000
            )
        await pages["doctor"].locator(".call-controls .hang-up").click()
        await expect(pages["patient"].locator(".call-status")).to_contain_text("kết thúc")
