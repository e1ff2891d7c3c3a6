"""Email digests through a real SMTP server (aiosmtpd) on loopback: one plain-text email per
window for a user who opted in, counts and a link only. The window's end is reached by moving
a FakeClock."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from mail_server import Inbox, smtp_server
from medtalk.core.clock import FakeClock
from world import LiveServer, World, eventually, start_server


@pytest.fixture
def smtp() -> Iterator[Inbox]:
    with smtp_server() as inbox:
        yield inbox


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def mailing_server(tmp_path: Path, smtp: Inbox, clock: FakeClock) -> Iterator[LiveServer]:
    with start_server(
        tmp_path,
        "",
        backend="sqlite",
        clock=clock,
        notifier="log,email",
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        smtp_tls="none",
        mail_from="medtalk@example.org",
        email_digest_minutes=15,
        public_url="https://medtalk.example.org",
    ) as server:
        yield server


async def test_one_digest_per_window_with_counts_and_no_content(
    mailing_server: LiveServer, smtp: Inbox, clock: FakeClock
) -> None:
    inbox = smtp
    async with World(mailing_server) as world:
        patient, doctor, conversation = await world.consultation("Chào bác sĩ")
        wants = {"emailDigest": True, "email": "binh@example.org"}
        saved = await patient.put("/api/v1/notifications/preferences", json=wants)
        assert saved.status_code == 200, saved.text
        for text in ("Kết quả xét nghiệm máu", "Chỉ số đường huyết cao", "Hẹn tái khám"):
            await doctor.sends(conversation, text)

        async def scheduled() -> bool:
            rows = await mailing_server.sql("SELECT due_at FROM email_digests")
            return len(rows) == 1

        await eventually(scheduled, 10, "the digest is scheduled")
        await asyncio.sleep(0.5)  # nothing to await: time for a second digest to be scheduled
        assert inbox.messages == []  # not before the window's end
        clock.advance(15 * 60)

        async def arrived() -> bool:
            return bool(inbox.messages)

        await eventually(arrived, 10, "the digest arrives")
        clock.advance(15 * 60)  # the next window: nothing new waits in it
        await asyncio.sleep(0.5)  # nothing to await: time for a wrong second mail to arrive
        assert len(inbox.messages) == 1
        recipients, message = inbox.messages[0]
        assert recipients == ["binh@example.org"]
        assert message["From"] == "medtalk@example.org"
        assert message.get_content_type() == "text/plain"
        body = inbox.body(0)
        assert "3 tin nhắn chưa đọc trong 1 cuộc trò chuyện" in body
        assert "3 unread messages in 1 conversations" in body
        assert "https://medtalk.example.org" in body
        for text in ("xét nghiệm", "đường huyết", "tái khám", doctor.name):
            assert text not in body
