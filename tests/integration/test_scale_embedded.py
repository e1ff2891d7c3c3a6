"""Scale-out features on the embedded defaults (one node, in-memory limits and presence,
jobs run in-process from the outbox), against SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from cluster import Webhook
from integration.test_files import png_bytes, upload
from medtalk.core.clock import FakeClock
from medtalk.db.engine import Database, create_engine
from medtalk.jobs import store as jobs_store
from medtalk.jobs.kinds.notify import NotifyOffline
from medtalk.jobs.notifiers import WebhookNotifier
from medtalk.jobs.registry import JobBusy
from world import LiveServer, Person, World, eventually, start_server


async def test_31st_message_in_a_minute_gets_429_and_an_error_ack_and_is_not_stored(
    world: World,
) -> None:
    patient, _doctor, conversation = await world.consultation()
    before = await world.metrics()
    for i in range(30):
        await patient.sends(conversation, f"tin nhắn {i}")
    refused = await patient.post(
        "/api/v1/chat/messages/send",
        json={"conversationId": conversation, "content": "một nữa", "contentType": "TEXT"},
    )
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "RATE_LIMITED"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    socket = await patient.connects()
    ack = await socket.call(
        "send_message", {"conversationId": conversation, "content": "nữa", "contentType": "TEXT"}
    )
    assert ack["error"]["code"] == "RATE_LIMITED"
    assert len((await patient.history(conversation, limit=100))["messages"]) == 30
    limit = {"limit": "messages-per-minute"}
    refusals = (await world.metrics()).value("medtalk_rate_limited_total", **limit)
    assert refusals - before.value("medtalk_rate_limited_total", **limit) == 2


async def test_presence_is_shown_to_counterparts_only_and_follows_connections(
    world: World,
) -> None:
    patient, doctor, _conversation = await world.consultation()
    stranger = await world.patient("Người lạ")
    assert (await stranger.presence_of(patient)).status_code == 404
    assert (await doctor.presence_of(patient)).json()["online"] is False
    doctor_socket = await doctor.connects()
    patient_socket = await patient.connects()
    came = await doctor_socket.events.next("presence")
    assert came["userId"] == str(patient.id) and came["online"] is True
    assert (await doctor.presence_of(patient)).json()["online"] is True
    await patient_socket.close()
    went = await doctor_socket.events.next("presence")
    assert went["online"] is False and went["lastSeen"].endswith("Z")
    seen = (await doctor.presence_of(patient)).json()
    assert seen["online"] is False and seen["lastSeen"]


async def test_the_doctor_closes_and_reopens_a_conversation(world: World) -> None:
    patient, doctor, conversation = await world.consultation()
    assert (await patient.sets_status(conversation, "CLOSED")).status_code == 403
    assert (await doctor.sets_status(conversation, "ARCHIVED")).status_code == 422
    closed = await doctor.sets_status(conversation, "CLOSED")
    assert closed.status_code == 200 and closed.json() == {"status": "CLOSED"}
    refused = await patient.post(
        "/api/v1/chat/messages/send",
        json={"conversationId": conversation, "content": "còn đó không?", "contentType": "TEXT"},
    )
    assert refused.status_code == 409
    assert (await doctor.sets_status(conversation, "ACTIVE")).status_code == 200
    await patient.sends(conversation, "cảm ơn")


@pytest.fixture
def archiving_server(tmp_path: Path) -> Iterator[LiveServer]:
    """Archives CLOSED conversations at once (age limit 0), sweeping every 0.3 s."""
    with start_server(
        tmp_path, "", backend="sqlite", archive_after_days=0, archive_sweep_seconds=0.3
    ) as server:
        yield server


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    receiver = Webhook()
    yield receiver
    receiver.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def notifying_server(tmp_path: Path, webhook: Webhook, clock: FakeClock) -> Iterator[LiveServer]:
    with start_server(
        tmp_path,
        "",
        backend="sqlite",
        notifier="webhook",
        notify_webhook_url=webhook.url,
        notify_coalesce_seconds=COOLDOWN,
        clock=clock,
    ) as server:
        yield server


COOLDOWN = 60.0  # seconds between notifications of one conversation (on the FakeClock)


async def test_closed_conversation_is_archived_compressed_and_stays_readable(
    archiving_server: LiveServer,
) -> None:
    server = archiving_server
    async with World(server) as world:
        patient, doctor, conversation = await world.consultation("Chào bác sĩ")
        await doctor.sends(conversation, "Uống thuốc sau ăn")
        assert (await doctor.sets_status(conversation, "CLOSED")).status_code == 200

        async def archived() -> bool:
            listing = await patient.conversations(status="ARCHIVED")
            return any(c["id"] == conversation for c in listing["conversations"])

        await eventually(archived, 10, "the CLOSED conversation becomes ARCHIVED")
        history = await patient.history(conversation)
        assert [m["content"] for m in history["messages"]] == [
            "Uống thuốc sau ăn",
            "Chào bác sĩ",
        ]
        jobs = server.app.api.state.container.jobs
        rows = await jobs.archiver.read(uuid.UUID(conversation))
        assert [row["seq"] for row in rows] == [1, 2]
        assert all("Uống" not in row["content"] for row in rows)  # still sealed
        # Running the job again changes nothing.
        assert await jobs.archiver.archive(uuid.UUID(conversation)) is False
        reopen = await doctor.sets_status(conversation, "ACTIVE")
        assert reopen.status_code == 409


async def test_offline_participant_gets_one_webhook_without_content(
    notifying_server: LiveServer, webhook: Webhook, clock: FakeClock
) -> None:
    async with World(notifying_server) as world:
        patient, doctor, conversation = await world.consultation()
        sent = await patient.sends(conversation, "Kết quả xét nghiệm thế nào?")

        def told(person: Person) -> list[dict[str, Any]]:
            return [body for _key, body in webhook.for_user(person.id)]

        async def told_times(person: Person, times: int) -> bool:
            return len(told(person)) == times

        await eventually(lambda: told_times(doctor, 1), 10, "the offline doctor is notified")
        key, body = webhook.for_user(doctor.id)[0]
        assert key.startswith("notify:") and body["messageId"] == sent["messageId"]
        assert body["count"] == 1 and body["senderId"] == str(patient.id)
        assert "xét nghiệm" not in str(body) and "content" not in body
        # Three more within the cooldown: held back, then one notification for all three.
        for text in ("Tôi sốt 39 độ", "Có cần đi khám không?", "Xin trả lời sớm"):
            last = await patient.sends(conversation, text)
        clock.advance(COOLDOWN - 1)
        await asyncio.sleep(0.5)  # nothing to await: time for a job run too early to show
        assert len(told(doctor)) == 1
        clock.advance(1)  # the cooldown ends
        await eventually(lambda: told_times(doctor, 2), 10, "one coalesced notification")
        coalesced = told(doctor)[1]
        assert coalesced["count"] == 3 and coalesced["messageId"] == last["messageId"]
        # The same job run again by a second runner (as a worker process is): no second POST.
        notify = second_runner(notifying_server, webhook, clock)
        job = {"conversationId": conversation, "recipientId": str(doctor.id)}
        await notify(job)
        # Two copies of one job at once (a re-published job): one POST; the other backs off
        # (JobBusy, offered again later) or finds it told already.
        another = await patient.sends(conversation, "Tôi có cần nhịn ăn không?")
        outcomes = await asyncio.gather(notify(job), notify(job), return_exceptions=True)
        assert all(o is None or isinstance(o, JobBusy) for o in outcomes), outcomes
        await notify(job)  # the retry finds it done
        assert [b["messageId"] for b in told(doctor)].count(another["messageId"]) == 1
        await doctor.connects()
        await doctor.sends(conversation, "Bình thường")  # the patient is offline
        await eventually(lambda: told_times(patient, 1), 10, "the offline patient is notified")
        clock.advance(COOLDOWN)  # the server's own deferred jobs run and find it all told

        async def all_run() -> bool:
            return await pending_jobs(notifying_server) == 0

        await eventually(all_run, 10, "the deferred jobs have run")
        assert len(told(doctor)) == 3 and len(told(patient)) == 1
        assert await pending_jobs(notifying_server) == 0
        await patient.connects()
        await patient.sends(conversation, "Cảm ơn")  # the doctor is online now: no job at all
        assert await pending_jobs(notifying_server) == 0


async def pending_jobs(server: LiveServer) -> int:
    async with server.container.db.read() as db:
        return await jobs_store.pending_count(db)


def second_runner(server: LiveServer, webhook: Webhook, clock: FakeClock) -> NotifyOffline:
    """The notify_offline handler of a second runner (another worker) on the same database,
    with no cooldown, which sees everyone as offline."""

    async def offline(_user: uuid.UUID) -> bool:
        return False

    db = Database(create_engine(server.settings), serialize_writes=True)
    return NotifyOffline(
        db, clock, WebhookNotifier(webhook.url, ""), offline, cooldown=timedelta(0)
    )


async def _true(value: bool) -> bool:
    return value


async def test_21st_file_in_an_hour_is_refused_and_not_stored(world: World) -> None:
    patient, _doctor, conversation = await world.consultation()
    image = png_bytes((4, 4))
    for i in range(20):
        assert (await upload(patient, conversation, f"anh-{i}.png", image)).status_code == 201
    refused = await upload(patient, conversation, "anh-21.png", image)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    assert refused.json()["error"]["code"] == "RATE_LIMITED"
    history = await patient.history(conversation, limit=100)
    assert len(history["messages"]) == 20
