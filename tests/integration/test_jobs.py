"""The outbox relay and the RabbitMQ queue backend, driven directly."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import aio_pika
import pytest
import sqlalchemy as sa

import world
from medtalk.core.clock import Clock
from medtalk.db.engine import Database, create_engine
from medtalk.db.migrate import upgrade
from medtalk.db.tables import outbox
from medtalk.jobs.outbox import Job, JobOutbox
from medtalk.jobs.queue import InProcessQueue, JobQueue
from medtalk.jobs.queue.rabbitmq import RabbitMQQueue
from medtalk.jobs.relay import OutboxRelay

AMQP_URL = os.environ.get("MEDTALK_TEST_AMQP", "amqp://guest:guest@127.0.0.1:5672/")


@pytest.fixture
def database(tmp_path: Path) -> Database:
    settings = world.test_settings(tmp_path, "")
    upgrade(settings)
    return Database(create_engine(settings), serialize_writes=True)


class RecordingQueue(JobQueue):
    """A broker that only records (stands in for RabbitMQ where only the relay is tested)."""

    def __init__(self) -> None:
        self.published: list[Job] = []

    async def publish(self, job: Job) -> None:
        self.published.append(job)


def relay(database: Database, queue: JobQueue) -> OutboxRelay:
    return OutboxRelay(
        database,
        queue,
        Clock(),
        poll_seconds=0.1,
        max_attempts=3,
        retry_base_seconds=0.0,
        skip_locked=False,
    )


async def rows(database: Database) -> list[sa.Row[tuple[object, ...]]]:
    async with database.read() as db:
        return list(await db.execute(sa.select(outbox.c.kind, outbox.c.status, outbox.c.attempts)))


async def test_a_job_committed_before_a_crash_is_published_by_the_next_relay(
    database: Database,
) -> None:
    jobs = JobOutbox(Clock())
    async with database.transaction() as db:
        await jobs.add(db, "notify_offline", {"messageId": "m1"})
    # ...the process dies here, before any relay ran: the row is all that is left.
    assert [(r.kind, r.status) for r in await rows(database)] == [("notify_offline", "PENDING")]
    queue = RecordingQueue()
    await relay(database, queue).relay_once()
    assert [job.payload for job in queue.published] == [{"messageId": "m1"}]
    assert await rows(database) == []


async def test_a_rolled_back_transaction_leaves_no_job(database: Database) -> None:
    jobs = JobOutbox(Clock())
    with pytest.raises(RuntimeError):
        async with database.transaction() as db:
            await jobs.add(db, "notify_offline", {"messageId": "m2"})
            raise RuntimeError("the message insert failed")
    assert await rows(database) == []


async def test_an_in_process_job_that_keeps_failing_ends_dead(database: Database) -> None:
    attempts = 0

    async def failing(_job: Job) -> None:
        nonlocal attempts
        attempts += 1
        raise ValueError("webhook down")

    jobs = JobOutbox(Clock())
    async with database.transaction() as db:
        await jobs.add(db, "notify_offline", {})
    relayer = relay(database, InProcessQueue(failing))
    dead_before = _sample("medtalk_job_dead_letters_total", queue="notify_offline")
    retries_before = _sample("medtalk_job_retries_total", queue="notify_offline")
    for _ in range(5):
        await relayer.relay_once()
    assert attempts == 3
    assert [(r.status, r.attempts) for r in await rows(database)] == [("DEAD", 3)]
    assert _sample("medtalk_job_retries_total", queue="notify_offline") - retries_before == 2
    assert _sample("medtalk_job_dead_letters_total", queue="notify_offline") - dead_before == 1


def _sample(name: str, **labels: str) -> float:
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture
async def rabbit_prefix() -> AsyncIterator[str]:
    prefix = f"medtalk-test-{uuid.uuid4().hex[:8]}"
    try:
        connection = await aio_pika.connect(AMQP_URL, timeout=5)
    except Exception as exc:  # noqa: BLE001
        if os.environ.get("CI"):
            pytest.fail(f"RabbitMQ is required in CI: {exc}")
        pytest.skip(f"RabbitMQ not reachable: {exc}")
    yield prefix
    channel = await connection.channel()
    for name in (f"{prefix}.jobs", f"{prefix}.jobs.retry", f"{prefix}.jobs.dead"):
        await channel.queue_delete(name)
    for name in (f"{prefix}.jobs", f"{prefix}.jobs.dead"):
        await channel.exchange_delete(name)
    await connection.close()


async def test_rabbitmq_retries_with_backoff_then_dead_letters(rabbit_prefix: str) -> None:
    queue = RabbitMQQueue(AMQP_URL, rabbit_prefix, max_attempts=3, retry_base_seconds=0.1)
    runs: dict[str, int] = {}
    done = asyncio.Event()

    async def handler(job: Job) -> None:
        runs[job.kind] = runs.get(job.kind, 0) + 1
        if job.kind == "boom":
            if runs["boom"] == 3:
                done.set()
            raise RuntimeError("always fails")

    await queue.start()
    try:
        await queue.consume(handler)
        await queue.publish(Job(uuid.uuid4(), "fine", {}))
        await queue.publish(Job(uuid.uuid4(), "boom", {}))
        await asyncio.wait_for(done.wait(), 15)
        connection = await aio_pika.connect(AMQP_URL)
        channel = await connection.channel()
        dead = await channel.declare_queue(f"{rabbit_prefix}.jobs.dead", durable=True)
        for _ in range(50):
            message = await dead.get(fail=False)
            if message is not None:
                break
            await asyncio.sleep(0.1)
        assert message is not None and Job.decode(message.body).kind == "boom"
        await message.ack()
        await connection.close()
        assert runs == {"fine": 1, "boom": 3}
    finally:
        await queue.close()
