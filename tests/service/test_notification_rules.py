"""Notification rules in-process (issue 18): which call and recording facts become
notifications, escalation only within clinic hours, quiet hours across midnight."""

from __future__ import annotations

import json
import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from clinic import Clinic

from mail_server import smtp_server
from medtalk.container import build_container
from medtalk.core.clock import FakeClock
from medtalk.core.events import RecordingSink
from medtalk.db.tables import outbox
from medtalk.jobs.job import Job
from medtalk.notifications.preferences import Preferences
from world import test_settings as settings_for

# A Monday, 16:50 UTC: ten minutes before the clinic closes.
MONDAY_1650 = datetime(2026, 11, 30, 16, 50, tzinfo=UTC)


async def _clinic(migrated: Path, tmp_path: Path, clock: FakeClock, **settings: Any) -> Clinic:
    shutil.copy(migrated, tmp_path / "medtalk.db")
    container = build_container(settings_for(tmp_path, "", **settings), clock)
    heard = RecordingSink()
    container.events.subscribe(heard)
    return Clinic(container.settings, container, heard)


@pytest.fixture
async def pushing(migrated: Path, tmp_path: Path) -> AsyncIterator[Clinic]:
    clinic = await _clinic(migrated, tmp_path, FakeClock(), notifier="log,webpush")
    yield clinic
    await clinic.services.close()


@pytest.fixture
async def escalating(migrated: Path, tmp_path: Path) -> AsyncIterator[Clinic]:
    clinic = await _clinic(
        migrated,
        tmp_path,
        FakeClock(MONDAY_1650),
        escalation_after_minutes=[30],
        escalation_webhook_url="http://127.0.0.1:9/on-call",
        escalation_clinic_hours="08:00-17:00",
        escalation_time_zone="UTC",
    )
    yield clinic
    await clinic.services.close()


async def _jobs(clinic: Clinic, kind: str) -> list[dict[str, Any]]:
    query = sa.select(outbox.c.payload).where(outbox.c.kind == kind).order_by(outbox.c.created_at)
    async with clinic.services.db.read() as db:
        return [json.loads(row.payload) for row in await db.execute(query)]


async def _pending(clinic: Clinic, kind: str) -> list[Job]:
    query = sa.select(outbox.c.id, outbox.c.payload).where(
        outbox.c.kind == kind, outbox.c.status == "PENDING"
    )
    async with clinic.services.db.read() as db:
        return [Job(row.id, kind, json.loads(row.payload)) for row in await db.execute(query)]


async def _notifications(clinic: Clinic) -> list[dict[str, Any]]:
    return [job["notification"] for job in await _jobs(clinic, "deliver_notification")]


async def test_an_incoming_call_is_pushed_to_the_patient_with_ids_only(pushing: Clinic) -> None:
    patient, doctor = await pushing.patient(), await pushing.doctor()
    conversation = await patient.opens_conversation_with(doctor)
    room = await doctor.opens_room(conversation)
    [incoming] = await _notifications(pushing)
    assert incoming == {
        "type": "CALL_INCOMING",
        "userId": str(patient.id),
        "conversationId": str(conversation.conversation_id),
        "roomId": str(room.room_id),
        "senderId": str(doctor.id),
    }  # no join link, no room token


async def test_a_call_nobody_answered_is_a_missed_call_one_the_patient_declined_is_not(
    pushing: Clinic,
) -> None:
    patient, doctor = await pushing.patient(), await pushing.doctor()
    conversation = await patient.opens_conversation_with(doctor)
    declined = await doctor.opens_room(conversation)
    await patient.ends(declined)
    missed = await doctor.opens_room(conversation)
    pushing.clock.advance(31 * 60)
    await pushing.services.calls.end_overdue_calls()
    types = [(n["type"], n["roomId"]) for n in await _notifications(pushing)]
    assert types == [
        ("CALL_INCOMING", str(declined.room_id)),
        ("CALL_INCOMING", str(missed.room_id)),
        ("CALL_MISSED", str(missed.room_id)),
    ]


async def test_a_ready_recording_is_pushed_without_its_link(pushing: Clinic) -> None:
    patient = await pushing.patient()
    ready = {"roomId": "r1", "recordingId": "rec1", "url": "https://x/signed?sig=secret"}
    await pushing.services.events.to_user(patient.id, "recording_ready", ready)
    [notification] = await _notifications(pushing)
    assert notification == {
        "type": "RECORDING_READY",
        "userId": str(patient.id),
        "roomId": "r1",
        "recordingId": "rec1",
    }


async def test_an_escalation_email_reaches_the_on_call_address_without_content(
    migrated: Path, tmp_path: Path
) -> None:
    with smtp_server() as inbox:
        clinic = await _clinic(
            migrated,
            tmp_path,
            FakeClock(MONDAY_1650),
            escalation_after_minutes=[30],
            escalation_email="oncall@example.org",
            smtp_host="127.0.0.1",
            smtp_port=inbox.port,
            smtp_tls="none",
            mail_from="medtalk@example.org",
        )
        try:
            patient, doctor = await clinic.patient("Lê Văn Cường"), await clinic.doctor()
            conversation = await patient.opens_conversation_with(doctor)
            await patient.sends(conversation, "Đau ngực dữ dội")
            clinic.clock.advance(45 * 60)
            [sweep] = [s for s in clinic.services.jobs.registry.sweeps if s.name == "escalation"]
            assert await sweep.run() == 1
            [job] = await _pending(clinic, "escalate_unanswered")
            await clinic.services.jobs.registry.run(job)
            await clinic.services.jobs.registry.run(job)  # a redelivered job mails nothing more
        finally:
            await clinic.services.close()
        [(recipients, message)] = inbox.messages
        assert recipients == ["oncall@example.org"]
        body = inbox.body(0)
        assert "Lê Văn Cường" in body and "45" in body
        assert str(conversation.conversation_id) in body
        assert "Đau ngực" not in body and "Đau ngực" not in str(message["Subject"])


async def test_escalation_waits_for_clinic_hours(escalating: Clinic) -> None:
    patient, doctor = await escalating.patient(), await escalating.doctor()
    conversation = await patient.opens_conversation_with(doctor)
    await patient.sends(conversation, "Tôi khó thở")  # 16:50
    [sweep] = [s for s in escalating.services.jobs.registry.sweeps if s.name == "escalation"]
    escalating.clock.advance(35 * 60)  # 17:25: past the threshold, but the clinic is closed
    assert await sweep.run() == 0
    escalating.clock.advance(14 * 3600 + 35 * 60)  # 08:00 the next morning
    assert await sweep.run() == 1
    assert await sweep.run() == 0  # once
    [job] = await _jobs(escalating, "escalate_unanswered")
    assert job["thresholdMinutes"] == 30 and job["conversationId"] == str(
        conversation.conversation_id
    )


def test_quiet_hours_wrap_midnight_in_the_users_time_zone() -> None:
    night = Preferences(quiet_start="22:00", quiet_end="07:00", time_zone="Asia/Ho_Chi_Minh")
    # Hanoi is UTC+7: 15:30 UTC is 22:30 there, 00:30 UTC is 07:30.
    assert night.quiet_at(datetime(2026, 12, 1, 15, 30, tzinfo=UTC))
    assert night.quiet_at(datetime(2026, 12, 1, 23, 0, tzinfo=UTC))  # 06:00
    assert not night.quiet_at(datetime(2026, 12, 1, 0, 30, tzinfo=UTC))
    assert not Preferences().quiet_at(datetime(2026, 12, 1, 15, 30, tzinfo=UTC))
