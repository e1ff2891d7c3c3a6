"""The doctor searches the history in Chromium without diacritics ("sot") and finds the
patient's "sốt", highlighted; the result jumps to the message, further back than the first
page of history."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from playwright.async_api import expect

from medtalk.core.auth import Role
from medtalk.demo import DEMO_DOCTOR, DEMO_PATIENT
from world import LiveServer

pytestmark = pytest.mark.timeout(180)


async def test_a_folded_word_finds_and_jumps_to_the_message(
    pages: Any, web_server: LiveServer
) -> None:
    doctor = pages.doctor
    base = web_server.base_url
    await doctor.goto(base + "/")  # the sign-in picker makes the demo conversation
    sign_in = doctor.get_by_role("button", name=DEMO_DOCTOR.name)
    await expect(sign_in).to_be_visible()

    async def sends(person: Any, role: Role, texts: list[str]) -> str:
        token = web_server.token(person.user_id, person.name, role)
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=base, headers=headers) as client:
            listed = (await client.get("/api/v1/chat/conversations")).json()["conversations"]
            conversation = listed[0]["id"]
            for text in texts:
                body = {"conversationId": conversation, "content": text, "contentType": "TEXT"}
                response = await client.post("/api/v1/chat/messages/send", json=body)
                assert response.status_code == 201, response.text
        return str(conversation)

    # The found message is well before the first page of history (30 messages); each side
    # stays under the 30-messages-a-minute limit.
    await sends(DEMO_PATIENT, Role.PATIENT, ["Tôi bị sốt cao từ tối qua, 39 độ"])
    await sends(DEMO_PATIENT, Role.PATIENT, [f"Tin nhắn số {i}" for i in range(20)])
    await sends(DEMO_DOCTOR, Role.DOCTOR, [f"Trả lời số {i}" for i in range(20)])

    await sign_in.click()
    await expect(doctor.locator(".topbar .who")).to_contain_text(DEMO_DOCTOR.name)
    search = doctor.get_by_role("searchbox", name="Search messages")
    await search.fill("SOT cao")
    await search.press("Enter")
    results = doctor.get_by_role("list", name="Search results").locator("li")
    await expect(results).to_have_count(1)
    result = results.first
    await expect(result).to_contain_text(DEMO_PATIENT.name)
    await expect(result.locator("mark")).to_have_text(["sốt", "cao"])
    await expect(doctor.get_by_role("status").filter(has_text="1 messages found")).to_be_visible()

    await result.get_by_role("button").click()
    found = doctor.locator("li.message.found")
    await expect(found).to_contain_text("Tôi bị sốt cao từ tối qua")
    await expect(found).to_be_in_viewport()
    # Nothing matches: said so.
    await search.fill("ibuprofen")
    await search.press("Enter")
    await expect(doctor.get_by_role("status").filter(has_text="No messages found")).to_be_visible()
