"""A patient who was not connected when the doctor called still gets the call prompt."""

from __future__ import annotations

from typing import Any

from playwright.async_api import expect

from medtalk.core.auth import Role
from world import LiveServer, World


async def test_patient_opening_the_app_after_the_call_was_placed_sees_the_prompt(
    browser: Any, web_server: LiveServer
) -> None:
    async with World(web_server) as world:
        patient, doctor, conversation = await world.consultation("Chào bác sĩ")
        room = await doctor.creates_room(conversation)  # `call_incoming` reaches no socket
        context = await browser.new_context(locale="en-US")
        try:
            page = await context.new_page()
            token = web_server.token(patient.id, patient.name, Role.PATIENT)
            await page.goto(f"{web_server.base_url}/#token={token}")
            prompt = page.get_by_role("alertdialog")
            await expect(prompt).to_contain_text(doctor.name)
            # Declining ends the room (the page's PUT .../end goes out as the prompt closes).
            async with page.expect_response(lambda r: r.url.endswith("/end")) as ended:
                await prompt.get_by_role("button", name="Decline").click()
            assert (await ended.value).status == 200
            await expect(prompt).to_have_count(0)
            listed = await patient.get("/api/v1/video-call/rooms")
            assert room["roomId"] not in {r["roomId"] for r in listed.json()["rooms"]}
        finally:
            await context.close()
