"""The waiting room (issue 17) in Chromium with fake media: the patient opens the call link in
a fresh browser, waits with the doctor's name in view, the doctor hears a chime, sees
"<patient> is waiting" and admits them; then video flows both ways.

The doctor's page is English, the patient's Vietnamese."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.async_api import BrowserContext, Page, expect
from test_browser_call_rejoin import video_flows

from conftest import CAPTURE_PEER_CONNECTIONS
from world import LiveServer, Person, World

# Counts the tones the page starts (the chime), whatever the autoplay policy lets through.
COUNT_CHIMES = """
(() => {
  window.__tones = 0;
  const start = OscillatorNode.prototype.start;
  OscillatorNode.prototype.start = function (...args) {
    window.__tones += 1;
    return start.apply(this, args);
  };
})();
"""
# What the page's own senders may use: the spec's 1.5 Mbps video, 128 kbps audio.
SENDER_LIMITS = """() => {
  const pc = window.__peerConnections.filter((p) => p.connectionState !== 'closed').at(-1);
  return Object.fromEntries(pc.getSenders().filter((s) => s.track).map((s) =>
    [s.track.kind, s.getParameters().encodings.map((e) => e.maxBitrate ?? null)]));
}"""
WAITING_TEXT = "Bạn đang ở phòng chờ. Bác sĩ sẽ cho bạn vào."


@pytest.fixture
async def world(web_server: LiveServer) -> AsyncIterator[World]:
    async with World(web_server) as world:
        yield world


@pytest.fixture
async def fresh_contexts(browser: Any) -> AsyncIterator[tuple[BrowserContext, BrowserContext]]:
    """A doctor's browser (English) and a patient's that never opened medtalk (Vietnamese)."""
    doctor = await browser.new_context(locale="en-US")
    patient = await browser.new_context(locale="vi-VN")
    for context in (doctor, patient):
        await context.add_init_script(CAPTURE_PEER_CONNECTIONS)
    await doctor.add_init_script(COUNT_CHIMES)
    try:
        yield doctor, patient
    finally:
        await doctor.close()
        await patient.close()


async def _open(context: BrowserContext, server: LiveServer, person: Person, path: str) -> Page:
    page = await context.new_page()
    token = server.token(person.id, person.name, person.role)
    await page.goto(f"{server.base_url}{path}#token={token}")
    return page


async def _patient_waits(page: Page, doctor: Person) -> None:
    room = page.locator(".waiting-room")
    await expect(room.locator(".waiting-doctor")).to_have_text(doctor.name, timeout=15_000)
    await expect(room.locator(".waiting-text")).to_have_text(WAITING_TEXT)
    await expect(page.locator(".call-status")).to_have_text("Phòng chờ")


async def test_doctor_hears_the_patient_waiting_and_admits_them(
    world: World, web_server: LiveServer, fresh_contexts: tuple[BrowserContext, BrowserContext]
) -> None:
    doctor_context, patient_context = fresh_contexts
    patient, doctor, conversation = await world.consultation("Chào bác sĩ")
    at = (datetime.now(UTC) + timedelta(minutes=2)).isoformat()  # a consultation by appointment
    room = await doctor.creates_room(conversation, scheduledTime=at)
    assert room["joinUrl"] == f"/call/{room['roomId']}"  # no public URL configured: relative
    doctor_page = await _open(doctor_context, web_server, doctor, f"/conversations/{conversation}")
    await expect(doctor_page.locator(".message").first).to_be_visible()

    patient_page = await _open(patient_context, web_server, patient, room["joinUrl"])
    await _patient_waits(patient_page, doctor)
    notice = doctor_page.get_by_role("alertdialog")
    await expect(notice).to_contain_text(f"{patient.name} is waiting")
    assert await doctor_page.evaluate("window.__tones") >= 1  # the chime
    await notice.get_by_role("button", name="Admit").click()

    await video_flows(doctor_page)
    await video_flows(patient_page)
    assert doctor_page.url.endswith(f"/call/{room['roomId']}")
    for page in (doctor_page, patient_page):
        limits = await page.evaluate(SENDER_LIMITS)
        assert limits == {"video": [1_500_000], "audio": [128_000]}, limits
    await expect(patient_page.locator(".waiting-room")).to_have_count(0)
    await expect(patient_page.locator(".call-status")).to_have_text("Đã kết nối")
    await expect(doctor_page.locator(".call-status")).to_have_text("Connected")
    await doctor_page.locator(".call-controls .hang-up").click()
    await expect(patient_page.locator(".call-status")).to_contain_text("kết thúc")


async def test_a_doctor_opening_the_app_later_sees_who_waits(
    world: World, web_server: LiveServer, fresh_contexts: tuple[BrowserContext, BrowserContext]
) -> None:
    doctor_context, patient_context = fresh_contexts
    patient, doctor, conversation = await world.consultation("Chào bác sĩ")
    at = (datetime.now(UTC) + timedelta(minutes=2)).isoformat()
    room = await doctor.creates_room(conversation, scheduledTime=at)
    patient_page = await _open(patient_context, web_server, patient, room["joinUrl"])
    await _patient_waits(patient_page, doctor)
    doctor_page = await _open(doctor_context, web_server, doctor, "/")
    notice = doctor_page.get_by_role("alertdialog")
    await expect(notice).to_contain_text(f"{patient.name} is waiting", timeout=15_000)
    await notice.get_by_role("button", name="Admit").click()
    await video_flows(patient_page)
    await expect(patient_page.locator(".call-status")).to_have_text("Đã kết nối")


async def test_appointment_link_in_a_fresh_browser_reaches_the_waiting_room(
    world: World, web_server: LiveServer, fresh_contexts: tuple[BrowserContext, BrowserContext]
) -> None:
    doctor_context, patient_context = fresh_contexts
    patient, doctor = await world.patient(), await world.doctor()
    appointment = str(uuid.uuid4())
    booked = await patient.post(
        "/api/v1/chat/conversations/create",
        json={"doctorId": str(doctor.id), "appointmentId": appointment},
    )
    assert booked.status_code == 201, booked.text
    room = await doctor.creates_room(appointmentId=appointment)

    # The link as the platform sends it: the relative joinUrl, signed in by #token=.
    patient_page = await _open(patient_context, web_server, patient, room["joinUrl"])
    await _patient_waits(patient_page, doctor)
    # The patient is not in the call: the server relays nothing to them yet.
    assert await patient_page.evaluate("(window.__peerConnections || []).length") == 1

    # The doctor opens the same room: the patient is listed as waiting, with Admit.
    doctor_page = await _open(doctor_context, web_server, doctor, room["joinUrl"])
    waiting = doctor_page.locator(".admit-row")
    await expect(waiting).to_contain_text(f"{patient.name} is waiting", timeout=15_000)
    await expect(doctor_page.locator(".call-status")).to_have_text(f"{patient.name} is waiting")
    await waiting.get_by_role("button", name="Admit").click()
    await video_flows(patient_page)
    await video_flows(doctor_page)
    await expect(waiting).to_have_count(0)
    await expect(patient_page.locator(".call-status")).to_have_text("Đã kết nối")


async def test_a_patient_too_early_waits_with_the_reason_in_their_language(
    world: World, web_server: LiveServer, fresh_contexts: tuple[BrowserContext, BrowserContext]
) -> None:
    _, patient_context = fresh_contexts
    patient, doctor, conversation = await world.consultation()
    at = (datetime.now(UTC) + timedelta(minutes=40)).isoformat()  # opens 15 minutes before
    room = await doctor.creates_room(conversation, scheduledTime=at)
    page = await _open(patient_context, web_server, patient, room["joinUrl"])
    waiting = page.locator(".waiting-room")
    await expect(waiting.locator(".waiting-doctor")).to_have_text(doctor.name, timeout=15_000)
    await expect(waiting.locator(".waiting-text")).to_have_text(
        "Cuộc gọi chưa mở. Vui lòng quay lại gần giờ hẹn."
    )
    await expect(page.locator(".call-status")).to_have_text("Phòng chờ")
