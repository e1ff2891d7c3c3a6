"""Clinician escalation on a FakeClock: a patient message unread past each threshold goes to
the on-call webhook once, with no content, and stops when the doctor reads it. The test moves
the clock (the sweep wakes as it passes its time); nothing sleeps for real."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cluster import Webhook
from medtalk.core.clock import FakeClock
from world import LiveServer, World, eventually, fresh_database, start_server

SWEEP_SECONDS = 60
CONTENT = "Con tôi sốt 39,5 độ, co giật nhẹ"


@pytest.fixture
def on_call() -> Iterator[Webhook]:
    receiver = Webhook()
    yield receiver
    receiver.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["sqlite", "postgresql"])
def escalating_server(
    request: pytest.FixtureRequest, tmp_path: Path, on_call: Webhook, clock: FakeClock
) -> Iterator[LiveServer]:
    database_url, drop = fresh_database(request.param)
    with start_server(
        tmp_path,
        database_url,
        backend=request.param,
        clock=clock,
        escalation_after_minutes=[30, 60],
        escalation_webhook_url=on_call.url,
        escalation_sweep_seconds=SWEEP_SECONDS,
    ) as server:
        yield server
    drop()


async def test_unread_patient_message_escalates_once_per_threshold_until_read(
    escalating_server: LiveServer, on_call: Webhook, clock: FakeClock
) -> None:
    async with World(escalating_server) as world:
        patient, doctor, conversation = await world.consultation()
        sent = await patient.sends(conversation, CONTENT)

        async def gauge(age: str, count: int) -> bool:
            scrape = await world.metrics()
            return scrape.value("medtalk_unanswered_patient_messages", age=age) == count

        async def minutes_later(minutes: float, age: str, count: int) -> None:
            """Move the clock; wait for a sweep to have seen it (the gauge says so). A sweep
            caught mid-pass by the move plans from its start, so the next runs at once."""
            clock.advance(minutes * 60)
            await eventually(
                lambda: gauge(age, count), 10, f"a sweep at +{minutes} min saw {age}={count}"
            )

        await minutes_later(29, "15-30m", 1)
        assert on_call.calls == []  # 29 minutes: not yet
        started = time.monotonic()
        await minutes_later(2, "30-60m", 1)
        await eventually(
            lambda: asyncio.sleep(0, len(on_call.calls) == 1), 10, "the 30 min escalation"
        )
        print(f"escalated {1000 * (time.monotonic() - started):.0f} ms after the clock passed")
        key, body = on_call.calls[0]
        assert key == f"escalate:{sent['messageId']}:30"
        assert body == {
            "type": "ESCALATION",
            "conversationId": conversation,
            "patientName": patient.name,
            "waitedMinutes": 31,
            "thresholdMinutes": 30,
        }
        assert "39,5" not in str(body) and "sốt" not in str(body)
        # Later sweeps (a marker message shows one ran) do not repeat the 30 min escalation.
        marker = await patient.sends(conversation, "Bác sĩ ơi?")
        await minutes_later(10, "0-15m", 1)
        assert len(on_call.calls) == 1
        # Past 60 minutes: the second threshold, once.
        await minutes_later(20, "1-4h", 1)
        await eventually(
            lambda: asyncio.sleep(0, len(on_call.calls) == 2), 10, "the 60 min escalation"
        )
        assert on_call.calls[1][1]["thresholdMinutes"] == 60
        # The doctor reads (up to the newest): nothing waits, nothing more escalates.
        read = await doctor.post(f"/api/v1/chat/messages/{marker['messageId']}/read")
        assert read.status_code == 200, read.text
        await minutes_later(1, "1-4h", 0)
        await minutes_later(300, "4h+", 0)
        assert [call[1]["thresholdMinutes"] for call in on_call.calls] == [30, 60]
