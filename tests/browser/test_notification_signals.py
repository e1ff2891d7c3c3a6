"""In-app signals and the push service worker in real Chromium (issue 18).

The tab is made to report itself hidden (document.hidden / visibilityState overridden by an
init script: a headless browser has no other window to switch to), and `window.Notification`
and the page's sounds are observed, not replaced. A browser here cannot subscribe to a real
push service (no Internet): the service worker's `push` handler is tested by dispatching a
push event to it ourselves, inside the service worker, with the payload medtalk sends.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from playwright.async_api import Page, expect

from medtalk.core.auth import Role
from world import LiveServer, World

OBSERVE = """
(() => {
  window.__sounds = [];
  window.__notifications = [];
  window.addEventListener("medtalk:sound", (e) => window.__sounds.push(e.detail));
  window.addEventListener("medtalk:notification", (e) => window.__notifications.push(e.detail));
})();
"""
HIDDEN = """
Object.defineProperty(Document.prototype, "hidden", { get: () => true });
Object.defineProperty(Document.prototype, "visibilityState", { get: () => "hidden" });
"""


async def until(page: Page, expression: str, within: float = 5.0) -> None:
    """Poll an expression through the debugging protocol (the page's CSP forbids the eval that
    page.wait_for_function would need)."""
    deadline = time.monotonic() + within
    while not await page.evaluate(expression):
        assert time.monotonic() < deadline, f"not within {within}s: {expression}"
        await asyncio.sleep(0.1)  # the page's state: polled


async def test_title_count_hidden_tab_notification_and_mute(
    browser: Any, web_server: LiveServer
) -> None:
    async with World(web_server) as world:
        patient, doctor, conversation = await world.consultation("Chào bác sĩ")
        context = await browser.new_context(locale="vi-VN", permissions=["notifications"])
        try:
            await context.add_init_script(OBSERVE)
            await context.add_init_script(HIDDEN)
            page = await context.new_page()
            token = web_server.token(patient.id, patient.name, Role.PATIENT)
            await page.goto(f"{web_server.base_url}/#token={token}")
            await expect(page.locator(".conversation-item")).to_have_count(1)
            await expect(page).to_have_title("medtalk")
            await doctor.sends(conversation, "Bạn đã đỡ sốt chưa?")
            await expect(page).to_have_title("(1) medtalk")
            await until(page, "window.__sounds.length === 1")
            assert await page.evaluate("window.__sounds") == ["chime"]
            shown = await page.evaluate("window.__notifications")
            assert shown == [
                {
                    "title": doctor.name,
                    "body": "Tin nhắn mới",
                    "tag": f"conversation:{conversation}",
                }
            ]
            # Muted: the count still grows, no sound; the choice survives a reload.
            mute = page.get_by_role("button", name="Tắt âm thanh")
            await mute.click()
            await expect(page.get_by_role("button", name="Bật âm thanh")).to_have_attribute(
                "aria-pressed", "true"
            )
            await doctor.sends(conversation, "Nhớ uống nước")
            await expect(page).to_have_title("(2) medtalk")
            assert await page.evaluate("window.__sounds") == ["chime"]
            await page.reload()
            await expect(page.get_by_role("button", name="Bật âm thanh")).to_be_visible()
        finally:
            await context.close()


async def test_service_worker_shows_a_push_without_content_and_opens_the_conversation(
    browser: Any, web_server: LiveServer
) -> None:
    async with World(web_server) as world:
        patient, doctor, conversation = await world.consultation("Chào bác sĩ")
        context = await browser.new_context(locale="en-US", permissions=["notifications"])
        try:
            page = await context.new_page()
            token = web_server.token(patient.id, patient.name, Role.PATIENT)
            async with context.expect_event("serviceworker") as registered:
                await page.goto(f"{web_server.base_url}/#token={token}")
            worker = await registered.value
            await page.evaluate("navigator.serviceWorker.ready.then(() => true)")
            await page.goto("about:blank")  # no page of ours in sight: the worker shows it
            push = {
                "type": "MESSAGE_WAITING",
                "conversationId": conversation,
                "senderName": doctor.name,
                "count": 3,
                "messageId": "00000000-0000-0000-0000-000000000001",
            }
            # Dispatched by the test (no real push service offline), as the browser would.
            shown = await worker.evaluate(
                """async (data) => {
                    self.dispatchEvent(new PushEvent("push", { data }));
                    for (let i = 0; i < 50; i++) {
                        const found = await self.registration.getNotifications();
                        if (found.length) return found.map((n) => ({
                            title: n.title, body: n.body, tag: n.tag, url: n.data.url }));
                        await new Promise((r) => setTimeout(r, 100));
                    }
                    return [];
                }""",
                json.dumps(push),
            )
            assert shown == [
                {
                    "title": doctor.name,
                    "body": "3 new messages",
                    "tag": f"conversation:{conversation}",
                    "url": f"/conversations/{conversation}",
                }
            ]
        finally:
            await context.close()


async def test_online_and_last_seen_of_the_other_person(
    browser: Any, web_server: LiveServer
) -> None:
    async with World(web_server) as world:
        patient, doctor, conversation = await world.consultation("Chào bác sĩ")
        context = await browser.new_context(locale="vi-VN")
        try:
            page = await context.new_page()
            token = web_server.token(patient.id, patient.name, Role.PATIENT)
            await page.goto(f"{web_server.base_url}/conversations/{conversation}#token={token}")
            status = page.locator(".thread-header .presence")
            await expect(status).to_have_text("Ngoại tuyến")  # never connected
            socket_ = await doctor.connects()
            await expect(status).to_have_text("Đang trực tuyến")
            await socket_.close()
            await expect(status).to_contain_text("Truy cập lần cuối")
        finally:
            await context.close()


async def test_settings_panel_saves_quiet_hours(browser: Any, web_server: LiveServer) -> None:
    async with World(web_server) as world:
        patient = await world.patient()
        context = await browser.new_context(locale="en-US")
        try:
            page = await context.new_page()
            token = web_server.token(patient.id, patient.name, Role.PATIENT)
            await page.goto(f"{web_server.base_url}/#token={token}")
            await page.get_by_role("button", name="Notifications").click()
            panel = page.get_by_role("dialog", name="Notifications")
            # No Web Push on this server: the page's own notifications are offered instead.
            await expect(
                panel.get_by_label("Notify me while this tab is in the background")
            ).to_be_visible()
            await expect(panel.get_by_label("Notifications on this device")).to_have_count(0)
            await panel.get_by_label("From").fill("22:00")
            await panel.get_by_label("To").fill("07:00")
            await panel.get_by_role("button", name="Save").click()
            await expect(panel.get_by_role("status")).to_have_text("Saved.")
            saved = (await patient.get("/api/v1/notifications/preferences")).json()
            assert (saved["quietStart"], saved["quietEnd"]) == ("22:00", "07:00")
            assert saved["push"] is True and saved["emailDigest"] is False
        finally:
            await context.close()


async def test_incoming_call_rings_until_declined(browser: Any, web_server: LiveServer) -> None:
    async with World(web_server) as world:
        patient, doctor, conversation = await world.consultation("Chào bác sĩ")
        context = await browser.new_context(locale="en-US")
        try:
            await context.add_init_script(OBSERVE)
            page = await context.new_page()
            token = web_server.token(patient.id, patient.name, Role.PATIENT)
            await page.goto(f"{web_server.base_url}/#token={token}")
            await expect(page.locator(".conversation-item")).to_have_count(1)
            await doctor.creates_room(conversation)
            await until(page, "window.__sounds.filter((s) => s === 'ring').length >= 2")
            await page.get_by_role("alertdialog").get_by_role("button", name="Decline").click()
            rings = await page.evaluate("window.__sounds.length")
            await page.wait_for_timeout(2500)  # it would ring again every 2 s
            # ... and the declined call's record in the conversation does not chime either.
            assert await page.evaluate("window.__sounds.length") == rings
        finally:
            await context.close()
