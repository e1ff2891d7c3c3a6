"""A call survives a reload and a network blip (issue 17), in Chromium with fake media.

Playwright's offline mode cuts the page's HTTP and WebSocket traffic (the Socket.IO
connection drops and comes back) but not WebRTC's UDP on loopback, so the offline test checks
the signaling side of recovery; loss, delay and an outage of the media path itself (through a
user-space UDP impairer in front of coturn) are in test_browser_call_impairment.py (Chromium)
and tests/integration/test_call_network.py (aiortc).

The doctor's page is English, the patient's Vietnamese. Recovery times are printed (run with
-s) and kept in test-artifacts/call-recovery.txt for the report."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from playwright.async_api import BrowserContext, Page, expect

from conftest import ARTIFACTS, CAPTURE_PEER_CONNECTIONS
from medtalk.core.auth import Role
from world import LiveServer, Person, World


@dataclass
class Call:
    doctor: Page
    patient: Page
    patient_context: BrowserContext
    room_id: str
    doctor_person: Person
    patient_person: Person


FRAMES = """async () => {
  const pc = (window.__peerConnections || []).filter((p) => p.connectionState !== 'closed').at(-1);
  if (!pc) return 0;
  let frames = 0;
  (await pc.getStats()).forEach((s) => {
    if (s.type === 'inbound-rtp' && s.kind === 'video') frames = s.framesDecoded;
  });
  return frames;
}"""


async def frames(page: Page) -> int:
    return int(await page.evaluate(FRAMES))


async def video_flows(page: Page, timeout_s: float = 30.0) -> float:
    """Wait until the remote video plays and its decoded frames grow; returns when (monotonic)."""
    deadline = time.monotonic() + timeout_s
    await page.wait_for_function(
        "() => { const v = document.querySelector('video.remote-video');"
        " return v && v.videoWidth > 0 && !v.paused; }",
        timeout=timeout_s * 1000,
    )
    first = await frames(page)
    while time.monotonic() < deadline:
        await page.wait_for_timeout(100)
        if await frames(page) > first:
            return time.monotonic()
    raise AssertionError("remote video does not advance")


def record(line: str) -> None:
    print(f"\n{line}")
    ARTIFACTS.mkdir(exist_ok=True)
    with (ARTIFACTS / "call-recovery.txt").open("a") as out:
        out.write(line + "\n")


@pytest.fixture
async def call(browser: Any, web_server: LiveServer) -> AsyncIterator[Call]:
    async with World(web_server) as world:
        patient, doctor, conversation = await world.consultation("Chào bác sĩ")
        doctor_context = await browser.new_context(locale="en-US")
        patient_context = await browser.new_context(locale="vi-VN")
        for context in (doctor_context, patient_context):
            await context.add_init_script(CAPTURE_PEER_CONNECTIONS)
        try:
            doctor_page = await doctor_context.new_page()
            patient_page = await patient_context.new_page()
            base = web_server.base_url
            doctor_token = web_server.token(doctor.id, doctor.name, Role.DOCTOR)
            patient_token = web_server.token(patient.id, patient.name, Role.PATIENT)
            await doctor_page.goto(f"{base}/conversations/{conversation}#token={doctor_token}")
            await patient_page.goto(f"{base}/conversations/{conversation}#token={patient_token}")
            await expect(patient_page.locator(".message").first).to_be_visible()
            await doctor_page.get_by_role("button", name="Video call").click()
            prompt = patient_page.get_by_role("alertdialog")
            await prompt.get_by_role("button", name="Trả lời").click()
            await video_flows(doctor_page)
            await video_flows(patient_page)
            room_id = doctor_page.url.rsplit("/", 1)[-1]
            yield Call(doctor_page, patient_page, patient_context, room_id, doctor, patient)
        finally:
            await doctor_context.close()
            await patient_context.close()


async def _room_status(person: Person, room_id: str) -> str:
    rooms = (await person.get("/api/v1/video-call/rooms")).json()["rooms"]
    return next((r["status"] for r in rooms if r["roomId"] == room_id), "GONE")


async def _seconds_on_timer(page: Page) -> int:
    text = (await page.locator(".call-timer").text_content()) or "00:00"
    minutes, seconds = text.split(":")[-2:]
    return int(minutes) * 60 + int(seconds)


async def test_reload_mid_call_comes_back_into_the_same_call(call: Call) -> None:
    await call.patient.wait_for_timeout(3000)  # a few seconds of call before the reload
    before = await _seconds_on_timer(call.doctor)
    reloaded = time.monotonic()
    await call.patient.reload()
    # Back in the same call, on the same URL, with video both ways.
    assert call.patient.url.endswith(f"/call/{call.room_id}")
    patient_back = await video_flows(call.patient)
    doctor_back = await video_flows(call.doctor)
    record(
        "reload mid-call -> remote video flowing again: "
        f"patient's page {patient_back - reloaded:.2f} s, "
        f"doctor's page {doctor_back - reloaded:.2f} s"
    )
    assert await _room_status(call.doctor_person, call.room_id) == "IN_PROGRESS"
    # The duration keeps counting from the call's start, on the reloaded page too.
    assert await _seconds_on_timer(call.patient) >= before
    await expect(call.patient.locator(".call-status")).to_have_text("Đã kết nối")
    await expect(call.doctor.locator(".call-status")).to_have_text("Connected")
    # And it still ends normally, for both.
    await call.doctor.locator(".call-controls .hang-up").click()
    await expect(call.patient.locator(".call-status")).to_contain_text("kết thúc")


async def test_offline_for_five_seconds_then_recovered(call: Call) -> None:
    offline = time.monotonic()
    await call.patient_context.set_offline(True)
    # The page notices (its socket is gone) and says so in the user's language.
    await expect(call.patient.locator(".call-status")).to_have_text(
        "Mất kết nối. Đang kết nối lại cuộc gọi…", timeout=5000
    )
    # The doctor is told the patient is reconnecting (not that they left).
    await expect(call.doctor.locator(".call-status")).to_have_text(
        f"{call.patient_person.name} is reconnecting…", timeout=5000
    )
    await call.patient.wait_for_timeout(max(0, 5000 - (time.monotonic() - offline) * 1000))
    online = time.monotonic()
    await call.patient_context.set_offline(False)
    patient_back = await video_flows(call.patient)
    doctor_back = await video_flows(call.doctor)
    record(
        "5 s offline (Playwright set_offline) -> remote video flowing: "
        f"patient's page {patient_back - online:.2f} s, doctor's page {doctor_back - online:.2f} s"
    )
    assert await _room_status(call.doctor_person, call.room_id) == "IN_PROGRESS"
    await expect(call.patient.locator(".call-status")).to_have_text("Đã kết nối", timeout=20_000)
    await expect(call.doctor.locator(".call-status")).to_have_text("Connected", timeout=20_000)
