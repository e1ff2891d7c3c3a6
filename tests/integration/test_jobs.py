"""The outbox relay, the one retry policy and the RabbitMQ queue backend, driven directly."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import aio_pika
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

import world
from medtalk.core.clock import Clock
from medtalk.core.retry import RetryPolicy
from medtalk.core.tasks import cancel_and_wait
from medtalk.db import together
from medtalk.db.engine import Database, create_engine
from medtalk.db.migrate import upgrade
from medtalk.db.tables import outbox
from medtalk.jobs.outbox import Job, JobOutbox
from medtalk.jobs.queue import InProcessQueue, JobQueue
from medtalk.jobs.queue.rabbitmq import RabbitMQQueue
from medtalk.jobs.registry import Deferred, JobKind, JobRegistry, Payload
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


async def _nothing(_payload: Payload) -> None:
    return None


def relay(
    database: Database, queue: JobQueue, *kinds: JobKind, policy: RetryPolicy | None = None
) -> OutboxRelay:
    return OutboxRelay(
        database,
        queue,
        JobRegistry(kinds or [JobKind("notify_offline", _nothing)]),
        Clock(),
        policy or RetryPolicy(max_attempts=3, base_seconds=0.0),
        poll_seconds=0.1,
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


async def test_an_in_process_job_that_keeps_failing_is_retried_by_the_policy_then_dead(
    database: Database,
) -> None:
    attempts = 0
    buried: list[Payload] = []

    async def failing(_payload: Payload) -> None:
        nonlocal attempts
        attempts += 1
        raise ValueError("webhook down")

    async def dead(payload: Payload) -> None:
        buried.append(payload)

    jobs = JobOutbox(Clock())
    async with database.transaction() as db:
        await jobs.add(db, "notify_offline", {"messageId": "m3"})
    relayer = relay(database, InProcessQueue(), JobKind("notify_offline", failing, dead=dead))
    dead_before = _sample("medtalk_job_dead_letters_total", queue="notify_offline")
    retries_before = _sample("medtalk_job_retries_total", queue="notify_offline")
    for _ in range(5):
        await relayer.relay_once()
    assert attempts == 3
    assert [(r.status, r.attempts) for r in await rows(database)] == [("DEAD", 3)]
    assert buried == [{"messageId": "m3"}]  # the kind's dead-letter hook ran once
    assert _sample("medtalk_job_retries_total", queue="notify_offline") - retries_before == 2
    assert _sample("medtalk_job_dead_letters_total", queue="notify_offline") - dead_before == 1


async def test_a_failed_job_waits_out_the_policy_backoff_before_its_retry(
    database: Database,
) -> None:
    runs = 0

    async def flaky(_payload: Payload) -> None:
        nonlocal runs
        runs += 1
        if runs == 1:
            raise ConnectionError("clamd down")

    async with database.transaction() as db:
        await JobOutbox(Clock()).add(db, "scan_file", {})
    policy = RetryPolicy(max_attempts=5, base_seconds=60.0)
    relayer = relay(database, InProcessQueue(), JobKind("scan_file", flaky), policy=policy)
    await relayer.relay_once()
    await relayer.relay_once()  # not due again for a minute
    assert runs == 1
    assert [(r.status, r.attempts) for r in await rows(database)] == [("PENDING", 1)]
    async with database.transaction() as db:  # a minute later
        await db.execute(outbox.update().values(available_at=Clock().now()))
    await relayer.relay_once()
    assert runs == 2 and await rows(database) == []


async def test_a_deferred_job_runs_again_later_without_using_an_attempt(
    database: Database,
) -> None:
    runs = 0

    async def not_yet(_payload: Payload) -> None:
        nonlocal runs
        runs += 1
        if runs < 3:
            raise Deferred("held by another runner", until=Clock().now())

    async with database.transaction() as db:
        await JobOutbox(Clock()).add(db, "assemble_recording", {})
    relayer = relay(database, InProcessQueue(), JobKind("assemble_recording", not_yet))
    for _ in range(5):
        await relayer.relay_once()
    assert runs == 3  # max_attempts is 3, and deferrals did not count toward it
    assert await rows(database) == []


async def test_a_job_running_at_shutdown_is_handed_back_and_runs_after_the_restart(
    database: Database,
) -> None:
    started = asyncio.Event()
    done: list[Payload] = []

    async def slow(payload: Payload) -> None:
        started.set()
        await asyncio.sleep(3600)  # cancelled by the shutdown below
        done.append(payload)

    async def quick(payload: Payload) -> None:
        done.append(payload)

    async with database.transaction() as db:
        await JobOutbox(Clock()).add(db, "scan_file", {"fileId": "f1"})
    first = relay(database, InProcessQueue(), JobKind("scan_file", slow))
    running = asyncio.create_task(first.run())
    await asyncio.wait_for(started.wait(), 10)
    await cancel_and_wait(running)
    await first.close()  # the process stops: the row is handed back, not lost nor hidden
    assert [(r.kind, r.status, r.attempts) for r in await rows(database)] == [
        ("scan_file", "PENDING", 0)
    ]
    second = relay(database, InProcessQueue(), JobKind("scan_file", quick))
    await second.relay_once()  # right after the restart, no lease to wait out
    assert done == [{"fileId": "f1"}]
    assert await rows(database) == []


async def test_a_relay_runs_here_only_the_kinds_it_was_given(database: Database) -> None:
    ran: list[str] = []

    async def run(payload: Payload) -> None:
        ran.append(payload["what"])

    async with database.transaction() as db:
        await JobOutbox(Clock()).add(db, "scan_file", {"what": "scan"})
        await JobOutbox(Clock()).add(db, "notify_offline", {"what": "notify"})
    worker = OutboxRelay(
        database,
        InProcessQueue(),
        JobRegistry([JobKind("notify_offline", run)]),
        Clock(),
        RetryPolicy(max_attempts=3, base_seconds=0.0),
        poll_seconds=0.1,
        skip_locked=False,
        kinds={"notify_offline"},
    )
    await worker.relay_once()
    assert ran == ["notify"]
    assert [(r.kind, r.status) for r in await rows(database)] == [("scan_file", "PENDING")]


def test_the_retry_policy_doubles_up_to_its_cap_and_stops_after_max_attempts() -> None:
    policy = RetryPolicy(max_attempts=4, base_seconds=1.0, max_delay_seconds=3.0)
    assert [policy.delay(n) for n in (1, 2, 3, 4)] == [1.0, 2.0, 3.0, 3.0]
    assert [policy.exhausted(n) for n in (1, 2, 3, 4)] == [False, False, False, True]


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
    queue = RabbitMQQueue(AMQP_URL, rabbit_prefix, RetryPolicy(3, 0.1))
    runs: dict[str, int] = {}
    done = asyncio.Event()
    buried: list[Payload] = []

    def handler(kind: str) -> JobKind:
        async def run(_payload: Payload) -> None:
            runs[kind] = runs.get(kind, 0) + 1
            if kind == "boom":
                raise RuntimeError("always fails")

        async def dead(payload: Payload) -> None:
            buried.append(payload)
            done.set()

        return JobKind(kind, run, dead=dead)

    await queue.start()
    try:
        await queue.consume(JobRegistry([handler("fine"), handler("boom")]))
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
            await asyncio.sleep(0.1)  # RabbitMQ's dead-letter queue: polled
        assert message is not None and Job.decode(message.body).kind == "boom"
        await message.ack()
        await connection.close()
        assert runs == {"fine": 1, "boom": 3}
        assert buried == [{}]
    finally:
        await queue.close()


async def coalesce(jobs: JobOutbox, db: AsyncConnection) -> None:
    """One more message to an offline doctor: its coalesced job, sent as the send path does."""
    write = jobs.coalesced_write("notify_offline", {"k1": {"who": "doctor"}})
    assert write is not None
    await together.run(db, [write])


async def test_coalesced_jobs_share_one_row_and_a_write_during_the_run_is_not_lost(
    database: Database,
) -> None:
    jobs = JobOutbox(Clock())
    for _ in range(3):  # three messages to one offline recipient: one pending job
        async with database.transaction() as db:
            await coalesce(jobs, db)
    assert len(await rows(database)) == 1
    runs = 0

    async def notify(_payload: Payload) -> None:
        nonlocal runs
        runs += 1
        if runs == 1:  # a fourth message commits while the first run is under way
            async with database.transaction() as db:
                await coalesce(jobs, db)

    relayer = relay(database, InProcessQueue(), JobKind("notify_offline", notify))
    await relayer.relay_once()
    # The row was written to during the run: it stays, due at once, for one more run.
    assert [(r.kind, r.status) for r in await rows(database)] == [("notify_offline", "PENDING")]
    await relayer.relay_once()
    assert runs == 2 and await rows(database) == []
    # Once done, the key is free: the next message makes a new job.
    async with database.transaction() as db:
        await coalesce(jobs, db)
    assert len(await rows(database)) == 1
