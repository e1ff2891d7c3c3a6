"""A doctor and a patient use the web client in real Chromium: they chat, then talk on video.

The doctor signs in with the demo picker on a desktop-sized window (English); the patient
follows a `#token=` link on a phone-sized one (Vietnamese). Media come from Chromium's fake
camera and microphone; everything else is real: the server, sockets, WebRTC between the pages.
"""

from __future__ import annotations

import asyncio
import io
import os
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from PIL import Image
from playwright.async_api import Page, expect

from medtalk.core.auth import Role
from medtalk.demo import DEMO_DOCTOR, DEMO_PATIENT
from world import LiveServer, World, start_server

pytestmark = pytest.mark.timeout(180)

DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img"


async def test_doctor_and_patient_chat(pages: Any, web_server: LiveServer, artifacts: Path) -> None:
    doctor, patient = pages.doctor, pages.patient
    base = web_server.base_url

    # The doctor picks the seeded demo account; the patient arrives through a link with a token.
    await doctor.goto(base + "/")
    await doctor.get_by_role("button", name=DEMO_DOCTOR.name).click()
    await expect(doctor.locator(".topbar .who")).to_contain_text(DEMO_DOCTOR.name)
    token = web_server.token(DEMO_PATIENT.user_id, DEMO_PATIENT.name, Role.PATIENT)
    await patient.goto(f"{base}/#token={token}")
    await expect(patient.locator(".topbar .who")).to_contain_text("Bệnh nhân")
    assert "token" not in patient.url, "the token must leave the address bar"
    assert await patient.evaluate("localStorage.length") == 0

    # The list: the doctor has one unread message (the seeded greeting), with its preview.
    doctor_item = doctor.locator(".conversation-item", has_text=DEMO_PATIENT.name)
    await expect(doctor_item.locator(".badge")).to_have_text("1")
    await expect(doctor_item.locator(".preview")).to_contain_text("đau đầu")

    # The patient opens the conversation: their greeting is sent, not yet read.
    await patient.locator(".conversation-item", has_text=DEMO_DOCTOR.name).click()
    greeting = patient.locator("li.message.mine").first
    await expect(greeting.locator(".ticks")).to_have_text("✓")

    # The doctor opens it, which reads it: the badge goes and the patient sees it read.
    await doctor_item.click()
    await expect(doctor.locator("li.message.theirs").first).to_contain_text("đau đầu")
    await expect(doctor_item.locator(".badge")).to_have_count(0)
    await expect(greeting.locator(".ticks.read")).to_have_text("✓✓")

    # Typing shows on the other side, then the message arrives and the indicator goes.
    composer = doctor.get_by_role("textbox", name="Message")
    await composer.press_sequentially("Chào chị, chị đau ", delay=20)
    await expect(patient.locator(".typing")).to_have_text(f"{DEMO_DOCTOR.name} đang nhập…")
    await composer.press_sequentially("đầu bao lâu rồi?", delay=10)
    await composer.press("Enter")
    await expect(patient.locator("li.message.theirs").last).to_contain_text(
        "Chào chị, chị đau đầu bao lâu rồi?"
    )
    await expect(patient.locator(".typing")).to_have_text("")

    # And back: the patient answers on the phone; the doctor reads it at once.
    await patient.get_by_role("textbox", name="Tin nhắn").fill("Từ hôm qua ạ, đau ở trán.")
    await patient.get_by_role("button", name="Gửi").click()
    await expect(doctor.locator("li.message.theirs").last).to_contain_text("Từ hôm qua ạ")
    await expect(patient.locator("li.message.mine").last.locator(".ticks.read")).to_be_visible()
    await expect(doctor.locator("li.message.mine").last.locator(".ticks.read")).to_be_visible()

    # The patient sends a photo: the doctor sees it as a loaded thumbnail.
    await patient.locator("#composer-file").set_input_files(
        {"name": "phat-ban.png", "mimeType": "image/png", "buffer": _png()}
    )
    thumbnail = doctor.locator("li.message.theirs img.thumbnail").last
    await expect(thumbnail).to_be_visible()
    await expect(thumbnail).to_have_attribute("alt", "phat-ban.png")
    await doctor.wait_for_function(
        "() => [...document.querySelectorAll('img.thumbnail')].some(i => i.naturalWidth > 0)"
    )
    await expect(patient.locator("li.upload")).to_have_count(0)  # the progress bar went away
    await expect(patient.locator("li.message.mine img.thumbnail")).to_have_count(1)

    # Switching language relabels the interface at once.
    await patient.locator("#lang-select").select_option("en")
    await expect(patient.get_by_role("button", name="Send")).to_be_visible()

    await doctor.screenshot(path=artifacts / "web-chat.png")
    await patient.screenshot(path=artifacts / "web-chat-phone.png")
    _publish(artifacts / "web-chat.png", "web-chat.png")


async def test_doctor_calls_patient_on_video(
    pages: Any, web_server: LiveServer, artifacts: Path
) -> None:
    doctor, patient = pages.doctor, pages.patient
    await expect(doctor.locator(".thread")).to_be_visible()  # where the chat test left off

    # A first call the patient declines: the doctor is told, and goes back to the chat.
    await doctor.get_by_role("button", name="Video call").click()
    prompt = patient.get_by_role("alertdialog")
    await prompt.get_by_role("button", name="Decline").click()
    await expect(prompt).to_have_count(0)
    await expect(doctor.locator(".call-status")).to_have_text(
        f"{DEMO_PATIENT.name} did not take the call"
    )
    await doctor.get_by_role("button", name="Back to the conversation").click()
    await expect(doctor.locator(".thread")).to_be_visible()
    await expect(doctor.locator(".call")).to_have_count(0)

    await doctor.get_by_role("button", name="Video call").click()
    await expect(doctor.locator(".call .call-status")).to_contain_text("Waiting")
    await expect(prompt).to_contain_text(DEMO_DOCTOR.name)
    # The prompt takes the focus, so the keyboard alone answers it.
    await expect(prompt.get_by_role("button", name="Accept")).to_be_focused()
    accepted = time.perf_counter()
    await patient.keyboard.press("Enter")

    await _remote_video_plays(patient)
    patient_wall = time.perf_counter() - accepted
    await _remote_video_plays(doctor)
    # Marks on one machine's clock (timeOrigin + startTime), so the two pages compare.
    accepted_at = await _mark_time(patient, "medtalk:call-accepted")
    patient_ms = await _mark_time(patient, "medtalk:first-remote-frame") - accepted_at
    doctor_ms = await _mark_time(doctor, "medtalk:first-remote-frame") - accepted_at
    print(
        f"\ncall set-up, accept -> first remote frame: patient's page {patient_ms:.0f} ms, "
        f"doctor's page {doctor_ms:.0f} ms (wall clock, patient: {patient_wall * 1000:.0f} ms)"
    )
    assert 0 < patient_ms < 30_000 and 0 < doctor_ms < 30_000
    for page in (doctor, patient):
        assert await _frames_decoded(page) > 0
    await _frames_keep_coming(doctor)
    await _frames_keep_coming(patient)

    # The timer runs; quality is measured from getStats (and reported as call_stats).
    await expect(doctor.locator(".call-timer")).not_to_have_text("00:00", timeout=5000)
    await expect(doctor.locator(".quality")).to_have_class(_any_level(), timeout=10_000)

    await doctor.screenshot(path=artifacts / "web-call.png")
    await patient.screenshot(path=artifacts / "web-call-phone.png")
    _publish(artifacts / "web-call.png", "web-call.png")

    # Both pages report call_stats (about every 5 s); the server keeps them with a score.
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        reporters = await web_server.sql(
            "SELECT count(DISTINCT user_id), max(width), min(quality_score) FROM call_stats"
        )
        if reporters[0][0] == 2:
            break
        await asyncio.sleep(0.5)  # the browsers report on their own schedule
    count, width, score = reporters[0]
    assert count == 2 and width > 0 and 0 <= score <= 100, reporters

    # Mute and camera off act on the real tracks and say so to assistive technology.
    mute = doctor.locator(".call-controls .mute-button")
    await mute.click()
    await expect(mute).to_have_attribute("aria-pressed", "true")
    assert await _track_enabled(doctor, "audio") is False
    await mute.click()
    assert await _track_enabled(doctor, "audio") is True
    camera = patient.locator(".call-controls .camera-button")
    await camera.click()
    assert await _track_enabled(patient, "video") is False
    await camera.click()

    # The doctor hangs up: the call ends on both pages and the camera is released.
    await doctor.locator(".call-controls .hang-up").click()
    for page in (doctor, patient):
        await expect(page.locator(".call-status")).to_contain_text(
            re.compile("Call ended|kết thúc")
        )
        await page.wait_for_function(
            "() => window.__peerConnections.every(pc => pc.connectionState === 'closed')"
        )
    await patient.get_by_role("button", name="Back to the conversation").click()
    await expect(patient.locator(".thread")).to_be_visible()
    await expect(patient.locator(".call")).to_have_count(0)


# --- helpers -------------------------------------------------------------------------------


def _png() -> bytes:
    image = Image.new("RGB", (320, 200), (214, 92, 92))
    for x in range(120, 200):
        for y in range(70, 130):
            image.putpixel((x, y), (250, 230, 200))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def _publish(screenshot: Path, name: str) -> None:
    """Copy a screenshot to docs/img/ for the README: when missing, or when asked to refresh
    (MEDTALK_UPDATE_SCREENSHOTS=1), so ordinary runs leave the work tree clean."""
    target = DOCS_IMG / name
    if target.exists() and os.environ.get("MEDTALK_UPDATE_SCREENSHOTS") != "1":
        return
    DOCS_IMG.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(screenshot, target)


def _any_level() -> re.Pattern[str]:
    return re.compile(r"quality (good|fair|poor)")


async def _remote_video_plays(page: Page) -> None:
    await page.wait_for_function(
        "() => { const v = document.querySelector('video.remote-video');"
        " return v && v.videoWidth > 0 && !v.paused; }",
        timeout=30_000,
    )


async def _mark_time(page: Page, name: str) -> float:
    """When a performance mark was set, in epoch milliseconds."""
    return float(
        await page.evaluate(
            "(name) => performance.timeOrigin + performance.getEntriesByName(name)[0].startTime",
            name,
        )
    )


async def _frames_decoded(page: Page) -> int:
    return int(
        await page.evaluate(
            """async () => {
              const pc = window.__peerConnections.at(-1);
              let frames = 0;
              (await pc.getStats()).forEach((s) => {
                if (s.type === 'inbound-rtp' && s.kind === 'video') frames = s.framesDecoded;
              });
              return frames;
            }"""
        )
    )


async def _frames_keep_coming(page: Page) -> None:
    before = await _frames_decoded(page)
    await page.wait_for_timeout(1000)
    after = await _frames_decoded(page)
    assert after > before, f"remote video stalled at {before} frames"


async def _track_enabled(page: Page, kind: str) -> bool:
    return bool(
        await page.evaluate(
            "(kind) => window.__peerConnections.at(-1).getSenders()"
            ".find(s => s.track && s.track.kind === kind).track.enabled",
            kind,
        )
    )


async def test_history_offline_and_errors(
    browser: Any, web_server: LiveServer, artifacts: Path
) -> None:
    """Paging back through history, messages sent offline, missed messages, clear errors."""
    async with World(web_server) as world:
        patient, doctor = await world.patient("Lê Thị Hoa"), await world.doctor("BS. Phạm Minh Đức")
        conversation = await patient.opens_conversation_with(doctor)
        for n in range(1, 41):
            await (patient if n % 2 else doctor).sends(conversation, f"tin nhắn số {n}")
        contexts = [await browser.new_context(locale="en-US") for _ in range(2)]
        patient_page, doctor_page = [await context.new_page() for context in contexts]
        try:
            # The patient follows a link with a token; the doctor pastes one and lands on the
            # conversation the address names.
            where = f"{web_server.base_url}/conversations/{conversation}"
            await patient_page.goto(f"{where}#token={patient.token}")
            await doctor_page.goto(where)
            await doctor_page.get_by_label("Access token").fill(doctor.token)
            await doctor_page.get_by_role("button", name="Sign in", exact=True).click()
            for page in (patient_page, doctor_page):
                await expect(page.locator("li.message").last).to_contain_text("tin nhắn số 40")

            # History: one page first, older pages as the reader scrolls up, in order.
            messages = patient_page.locator("li.message")
            await expect(messages).to_have_count(30)
            await patient_page.locator(".scroller").evaluate("(el) => { el.scrollTop = 0; }")
            await expect(patient_page.locator(".older-status")).to_have_text(
                "Beginning of the conversation"
            )
            await expect(messages).to_have_count(40)
            await expect(messages.first).to_contain_text("tin nhắn số 1")

            # Offline: the message waits with a clear note, then goes once the network is back.
            await contexts[0].set_offline(True)
            await expect(patient_page.locator(".connection")).to_be_visible()
            composer = patient_page.get_by_role("textbox", name="Message")
            await composer.fill("gửi khi mất mạng")
            await composer.press("Enter")
            await expect(patient_page.locator("li.pending")).to_contain_text(
                "waiting for the connection"
            )
            await contexts[0].set_offline(False)
            await expect(patient_page.locator("li.pending")).to_have_count(0)
            await expect(
                doctor_page.locator("li.message", has_text="gửi khi mất mạng")
            ).to_have_count(1)
            await expect(
                patient_page.locator("li.message", has_text="gửi khi mất mạng")
            ).to_have_count(1)

            # Missed while offline: the doctor's page catches up on reconnect, each message once.
            await contexts[1].set_offline(True)
            await expect(doctor_page.locator(".connection")).to_be_visible()
            await patient.sends(conversation, "lỡ mất một")
            await patient.sends(conversation, "lỡ mất hai")
            await contexts[1].set_offline(False)
            for text in ("lỡ mất một", "lỡ mất hai"):
                await expect(doctor_page.locator("li.message", has_text=text)).to_have_count(1)
            await expect(doctor_page.locator("li.message").last).to_contain_text("lỡ mất hai")

            # Uploads the server refuses say why.
            file_input = patient_page.locator("#composer-file")
            error = patient_page.locator(".thread-error")
            await file_input.set_input_files(
                {"name": "ghi-chu.txt", "mimeType": "text/plain", "buffer": b"not an image"}
            )
            await expect(error).to_contain_text("not accepted")
            too_big = b"\x89PNG\r\n\x1a\n" + bytes(3 * 1024 * 1024)
            await file_input.set_input_files(
                {"name": "lon.png", "mimeType": "image/png", "buffer": too_big}
            )
            await expect(error).to_contain_text("too large")

            # Rate limited: the doctor has used up the day's rooms; the page says when to retry.
            for _ in range(web_server.settings.rooms_per_day):
                room = await doctor.creates_room(conversation)
                await doctor.ends_call(room["roomId"])
            await doctor_page.get_by_role("button", name="Video call").click()
            await expect(doctor_page.locator(".thread-error")).to_contain_text(
                re.compile(r"Too many requests\. Try again in \d+ h")
            )
            await doctor_page.screenshot(path=artifacts / "web-errors.png")

            # A reload keeps this tab signed in; signing out forgets the token.
            await doctor_page.reload()
            await expect(doctor_page.locator(".topbar .who")).to_contain_text(doctor.name)
            await doctor_page.get_by_role("button", name="Sign out").click()
            await expect(doctor_page.get_by_label("Access token")).to_be_visible()
            assert await doctor_page.evaluate("sessionStorage.getItem('medtalk.token')") is None
        finally:
            for context in contexts:
                await context.close()


# Stand-in for https://<jitsi domain>/external_api.js: no Jitsi Meet server runs here, so this
# test double records what the client passes to JitsiMeetExternalAPI and lets the test fire its
# events. Everything else (server, rooms, tokens, sockets) is real.
FAKE_JITSI_API = """
window.JitsiMeetExternalAPI = class {
  constructor(domain, options) {
    this.listeners = {};
    const frame = document.createElement('div');
    frame.className = 'fake-jitsi';
    frame.textContent = 'Jitsi Meet: ' + options.roomName;
    options.parentNode.append(frame);
    const recorded = { ...options, parentNode: options.parentNode.id };
    window.__jitsi = { domain, options: recorded, api: this };
  }
  addEventListener(name, listener) { (this.listeners[name] ||= []).push(listener); }
  fire(name) { (this.listeners[name] || []).forEach((listener) => listener()); }
  dispose() { window.__jitsi.disposed = true; }
};
"""
JITSI_DOMAIN = "meet.example.test"


@pytest.fixture(scope="module")
def jitsi_server(web_build: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with start_server(
        tmp_path_factory.mktemp("medtalk-jitsi"),
        "",
        backend="sqlite",
        video_provider="jitsi",
        jitsi_domain=JITSI_DOMAIN,
        jitsi_app_id="medtalk-test",
        jitsi_app_secret="test-only-jitsi-secret-0123456789abcdef",
    ) as live:
        yield live


async def test_jitsi_provider_embeds_jitsi_meet(browser: Any, jitsi_server: LiveServer) -> None:
    async with World(jitsi_server) as world:
        patient, doctor, conversation = await world.consultation("Chào bác sĩ")
        contexts = [await browser.new_context(locale="en-US") for _ in range(2)]
        loaded_from: list[str] = []

        async def serve_fake_api(route: Any) -> None:
            loaded_from.append(route.request.url)
            await route.fulfill(body=FAKE_JITSI_API, content_type="application/javascript")

        try:
            pages = []
            for context, person in zip(contexts, (doctor, patient), strict=True):
                await context.route(f"https://{JITSI_DOMAIN}/external_api.js", serve_fake_api)
                page = await context.new_page()
                link = f"{jitsi_server.base_url}/conversations/{conversation}#token={person.token}"
                await page.goto(link)
                await expect(page.locator("li.message")).to_have_count(1)
                pages.append(page)
            doctor_page, patient_page = pages

            await doctor_page.get_by_role("button", name="Video call").click()
            await (
                patient_page.get_by_role("alertdialog").get_by_role("button", name="Accept").click()
            )
            for page in pages:
                await expect(page.locator("#jitsi-container .fake-jitsi")).to_be_visible()
            assert loaded_from == [f"https://{JITSI_DOMAIN}/external_api.js"] * 2

            embedded = await doctor_page.evaluate("window.__jitsi")
            assert embedded["domain"] == JITSI_DOMAIN
            options = embedded["options"]
            assert options["parentNode"] == "jitsi-container"
            assert options["configOverwrite"] == {
                "startWithAudioMuted": False,
                "startWithVideoMuted": False,
                "enableWelcomePage": False,
            }
            assert "hangup" in options["interfaceConfigOverwrite"]["TOOLBAR_BUTTONS"]
            claims = jwt.decode(options["jwt"], options={"verify_signature": False})
            assert claims["room"] == options["roomName"]
            assert claims["context"]["user"]["moderator"] is True  # the doctor hosts
            guest = await patient_page.evaluate("window.__jitsi.options")
            assert guest["roomName"] == options["roomName"]
            assert (
                jwt.decode(guest["jwt"], options={"verify_signature": False})["context"]["user"][
                    "moderator"
                ]
                is False
            )

            # Leaving the Jitsi conference ends the call for both.
            await patient_page.evaluate("window.__jitsi.api.fire('videoConferenceLeft')")
            for page in pages:
                await expect(page.locator(".call-status")).to_contain_text("Call ended")
                assert await page.evaluate("window.__jitsi.disposed") is True
        finally:
            for context in contexts:
                await context.close()
