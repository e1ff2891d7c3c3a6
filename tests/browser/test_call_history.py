"""Calls leave a trace in the conversation (issue 17): a declined call is a missed-call
message in both people's history, in each one's language, unread for the patient."""

from __future__ import annotations

from typing import Any

from playwright.async_api import expect

from medtalk.core.auth import Role
from world import LiveServer, World


async def test_a_missed_call_shows_in_both_histories(browser: Any, web_server: LiveServer) -> None:
    async with World(web_server) as world:
        patient, doctor, conversation = await world.consultation("Chào bác sĩ")
        doctor_context = await browser.new_context(locale="en-US")
        patient_context = await browser.new_context(locale="vi-VN")
        try:
            doctor_page = await doctor_context.new_page()
            patient_page = await patient_context.new_page()
            doctor_token = web_server.token(doctor.id, doctor.name, Role.DOCTOR)
            patient_token = web_server.token(patient.id, patient.name, Role.PATIENT)
            base = web_server.base_url
            await doctor_page.goto(f"{base}/conversations/{conversation}#token={doctor_token}")
            await patient_page.goto(f"{base}/conversations/{conversation}#token={patient_token}")
            await expect(patient_page.locator(".message").first).to_be_visible()
            await doctor_page.get_by_role("button", name="Video call").click()
            prompt = patient_page.get_by_role("alertdialog")
            await expect(prompt).to_contain_text(doctor.name)
            await prompt.get_by_role("button", name="Từ chối").click()
            # The doctor is told, and goes back to the conversation.
            await expect(doctor_page.locator(".call-status")).to_contain_text("did not take")
            await doctor_page.get_by_role("button", name="Back to the conversation").click()
            doctor_record = doctor_page.locator(".message.call-event.missed")
            patient_record = patient_page.locator(".message.call-event.missed")
            await expect(doctor_record).to_contain_text("Missed video call")
            await expect(patient_record).to_contain_text("Cuộc gọi nhỡ")
            # After a reload too: it is a stored message, not a page-local notice.
            await patient_page.reload()
            await expect(patient_page.locator(".message.call-event")).to_contain_text(
                "Cuộc gọi nhỡ"
            )
            await doctor_page.screenshot(path="test-artifacts/web-missed-call.png")
        finally:
            await doctor_context.close()
            await patient_context.close()
