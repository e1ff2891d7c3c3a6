"""Call recording in real Chromium: the doctor asks, the patient consents (or not), the doctor's
page records a canvas of both videos and a mix of both voices, uploads chunks, and the server
assembles one WebM. Media come from Chromium's fake camera and microphone; the rest is real."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Page, expect

from medtalk.core.auth import Role
from medtalk.demo import DEMO_DOCTOR, DEMO_PATIENT
from world import LiveServer, unavailable

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def ffprobe() -> str:
    path = shutil.which("ffprobe")
    if path is None:
        unavailable("ffprobe is not installed (scripts/test-deps.sh installs it)")
    return path


async def _in_a_call(doctor: Page, patient: Page, server: LiveServer) -> None:
    """Both signed in (first time) and in a video call the patient accepted."""
    if "conversations" not in doctor.url:
        await doctor.goto(server.base_url + "/")
        await doctor.get_by_role("button", name=DEMO_DOCTOR.name).click()
        token = server.token(DEMO_PATIENT.user_id, DEMO_PATIENT.name, Role.PATIENT)
        await patient.goto(f"{server.base_url}/#token={token}")
        await expect(patient.locator(".topbar .who")).to_contain_text("Bệnh nhân")
        await doctor.locator(".conversation-item", has_text=DEMO_PATIENT.name).click()
    await doctor.get_by_role("button", name="Video call").click()
    await patient.locator(".incoming-call .accept").click()
    for page in (doctor, patient):
        await page.wait_for_function(
            "() => { const v = document.querySelector('video.remote-video');"
            " return v && v.videoWidth > 0 && !v.paused; }",
            timeout=30_000,
        )
    await expect(doctor.locator(".record-button")).to_be_enabled()


async def _hang_up(doctor: Page, patient: Page) -> None:
    await doctor.locator(".call-controls .hang-up").click()
    for page in (doctor, patient):
        await expect(page.locator(".call.ended")).to_be_visible()


async def _recordings(server: LiveServer) -> list[Any]:
    return await server.sql(
        "SELECT status, duration_seconds, size, id, room_id FROM call_recordings "
        "ORDER BY requested_at"
    )


def _probe(ffprobe: str, data: bytes, where: Path) -> dict[str, Any]:
    path = where / "browser-recording.webm"
    path.write_bytes(data)
    result = subprocess.run(
        [ffprobe, "-v", "error", "-show_format", "-show_streams", "-of", "json", str(path)],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    info: dict[str, Any] = json.loads(result.stdout)
    return info


async def test_consented_recording_of_a_ten_second_call(
    pages: Any, web_server: LiveServer, ffprobe: str, tmp_path: Path
) -> None:
    doctor, patient = pages.doctor, pages.patient
    await _in_a_call(doctor, patient, web_server)

    # The doctor asks; the patient's page asks for consent (Vietnamese), keyboard-ready.
    await doctor.locator(".record-button").click()
    consent = patient.get_by_role("alertdialog")
    await expect(consent).to_contain_text(DEMO_DOCTOR.name)
    await expect(consent.locator(".consent-accept")).to_be_focused()
    await expect(doctor.locator(".recording-indicator")).to_be_hidden()  # nothing before consent
    await consent.locator(".consent-accept").click()

    # Both see that recording runs.
    await expect(doctor.locator(".recording-indicator")).to_be_visible()
    started = time.monotonic()
    await expect(patient.locator(".recording-indicator")).to_be_visible()
    await expect(doctor.locator(".recording-indicator")).to_have_attribute("role", "status")
    await doctor.wait_for_timeout(10_000)
    await doctor.locator(".stop-recording").click()
    recorded = time.monotonic() - started
    for page in (doctor, patient):
        await expect(page.locator(".recording-indicator")).to_be_hidden()

    # The server assembles it; both pages get a link to it.
    stopped = time.monotonic()
    for page in (doctor, patient):
        await expect(page.locator(".recording-note a.recording-link")).to_be_visible(timeout=30_000)
    saved = time.monotonic() - stopped
    href = await doctor.locator(".recording-note a.recording-link").get_attribute("href")
    assert href and "sig=" in href
    async with httpx.AsyncClient(base_url=web_server.base_url, timeout=30) as client:
        download = await client.get(href)
    assert download.status_code == 200 and download.headers["content-type"] == "video/webm"
    info = _probe(ffprobe, download.content, tmp_path)
    kinds = sorted(stream["codec_type"] for stream in info["streams"])
    assert kinds == ["audio", "video"], kinds
    duration = float(info["format"]["duration"])
    print(
        f"\nbrowser recording: {recorded:.1f} s recorded, ffprobe {duration:.2f} s, "
        f"{len(download.content) / 1e6:.2f} MB = {len(download.content) / 1e6 / duration * 60:.1f}"
        f" MB per minute; stop -> link on both pages {saved:.2f} s"
        f" (final-chunk grace {web_server.settings.recording_final_chunk_seconds:g} s)"
    )
    assert abs(duration - recorded) <= 1.0, (duration, recorded)
    video = next(stream for stream in info["streams"] if stream["codec_type"] == "video")
    assert (video["codec_name"], video["width"], video["height"]) == ("vp8", 1280, 480)
    await _hang_up(doctor, patient)
    await doctor.get_by_role("button", name="Back to the conversation").click()
    await patient.locator(".back-to-chat").click()


async def test_declined_consent_records_nothing_and_the_patient_can_stop_a_recording(
    pages: Any, web_server: LiveServer
) -> None:
    doctor, patient = pages.doctor, pages.patient
    before = len(await _recordings(web_server))
    await _in_a_call(doctor, patient, web_server)

    await doctor.locator(".record-button").click()
    await patient.get_by_role("alertdialog").locator(".consent-decline").click()
    await expect(doctor.locator(".recording-note")).to_have_text("Recording was declined.")
    await expect(patient.get_by_role("alertdialog")).to_have_count(0)
    await doctor.wait_for_timeout(1000)
    for page in (doctor, patient):
        await expect(page.locator(".recording-indicator")).to_be_hidden()
    declined = (await _recordings(web_server))[before:]
    assert [row[0] for row in declined] == ["DECLINED"]
    chunks = await web_server.sql("SELECT count(*) FROM call_recording_chunks")
    assert chunks[0][0] == 0

    # Asked again, allowed, then the patient withdraws consent with the stop button.
    await expect(doctor.locator(".record-button")).to_be_enabled()
    await doctor.locator(".record-button").click()
    await patient.get_by_role("alertdialog").locator(".consent-accept").click()
    await expect(patient.locator(".recording-indicator")).to_be_visible()
    await patient.wait_for_timeout(4000)
    await patient.locator(".stop-recording").click()
    for page in (doctor, patient):
        await expect(page.locator(".recording-indicator")).to_be_hidden()
    await expect(doctor.locator(".recording-note a.recording-link")).to_be_visible(timeout=30_000)
    await _hang_up(doctor, patient)
    rows = (await _recordings(web_server))[before:]
    assert [row[0] for row in rows] == ["DECLINED", "READY"]
    assert 2.0 < rows[1][1] < 7.0, rows[1]
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        ended = await web_server.sql("SELECT has_recording FROM video_call_rooms "
                                     "ORDER BY created_at DESC LIMIT 1")  # fmt: skip
        if ended[0][0]:
            break
        await asyncio.sleep(0.2)  # the browser and ffmpeg: polled
    assert ended[0][0]
