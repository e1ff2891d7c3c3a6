"""A patient records a voice message in Chromium (fake microphone) and the doctor plays it.

Real MediaRecorder output (Opus in WebM, written live) goes through the upload endpoint as
AUDIO; the server measures it with ffprobe and the doctor's page shows its length before
playing it, then plays it through (Range requests let the player seek).
"""

from __future__ import annotations

import re
import shutil
from typing import Any

import pytest
from playwright.async_api import expect

from medtalk.core.auth import Role
from medtalk.demo import DEMO_DOCTOR, DEMO_PATIENT
from world import LiveServer

pytestmark = pytest.mark.timeout(180)


async def test_a_voice_message_is_recorded_sent_and_played(
    pages: Any, web_server: LiveServer
) -> None:
    if shutil.which("ffprobe") is None:
        pytest.skip("ffprobe not installed; run scripts/test-deps.sh")
    doctor, patient = pages.doctor, pages.patient
    base = web_server.base_url
    await doctor.goto(base + "/")
    await doctor.get_by_role("button", name=DEMO_DOCTOR.name).click()
    token = web_server.token(DEMO_PATIENT.user_id, DEMO_PATIENT.name, Role.PATIENT)
    await patient.goto(f"{base}/#token={token}")
    await patient.locator(".conversation-item", has_text=DEMO_DOCTOR.name).click()
    await doctor.locator(".conversation-item", has_text=DEMO_PATIENT.name).click()
    await expect(doctor.locator(".thread")).to_be_visible()

    # A recording the patient cancels sends nothing.
    record = patient.get_by_role("button", name="Ghi âm tin nhắn thoại")
    await record.click()
    timer = patient.get_by_role("timer")
    await expect(timer).to_have_text("00:01")
    await patient.get_by_role("button", name="Huỷ").click()
    await expect(timer).to_be_hidden()
    await expect(record).to_be_visible()

    # Recorded for two seconds on the live timer, then sent.
    await record.click()
    await expect(patient.locator(".voice-limit")).to_have_text("/ 05:00")
    await expect(timer).to_have_text("00:02", timeout=10_000)
    await patient.locator(".voice-send").click()
    mine = patient.locator("li.message.mine .attachment.voice")
    await expect(mine).to_contain_text("Tin nhắn thoại")

    # The doctor sees a voice message with its length, and plays it.
    voice = doctor.locator("li.message.theirs .attachment.voice").last
    await expect(voice).to_contain_text("Voice message")
    length = await voice.locator(".duration").inner_text()
    assert re.fullmatch(r"00:0[23]", length), length
    await expect(voice.locator(".duration")).to_have_attribute("aria-label", f"Length {length}")
    audio = voice.locator("audio")
    await audio.evaluate("a => a.play()")
    await doctor.wait_for_function(
        "a => a.currentTime > 0.5 && Number.isFinite(a.duration) && a.duration > 1.5",
        arg=await audio.element_handle(),
        timeout=15_000,
    )
    assert await audio.evaluate("a => a.error") is None
    # Seek (a Range request) and play on to the end.
    await audio.evaluate("a => { a.currentTime = a.duration - 0.5; return a.play(); }")
    await doctor.wait_for_function("a => a.ended", arg=await audio.element_handle(), timeout=15_000)
