"""RabbitMQ via aio-pika: durable queues, publisher confirms, manual acks, retries, dead letters.

{p}.jobs        direct exchange -> queue {p}.jobs (dead-letters to {p}.jobs.dead)
{p}.jobs.retry  queue without consumers: a failed job waits there for its backoff (per-
                message expiration), then dead-letters back to {p}.jobs
{p}.jobs.dead   fanout exchange -> queue {p}.jobs.dead: jobs that failed every attempt
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import aio_pika
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection

from medtalk.core import metrics
from medtalk.core.clock import Clock
from medtalk.core.retry import RetryPolicy
from medtalk.jobs.job import Job
from medtalk.jobs.queue.base import JobQueue
from medtalk.jobs.registry import Deferred, JobRegistry

logger = logging.getLogger(__name__)
ROUTING_KEY = "job"


class RabbitMQQueue(JobQueue):
    def __init__(self, url: str, prefix: str, policy: RetryPolicy) -> None:
        self._url = url
        self._names = {
            "jobs": f"{prefix}.jobs",
            "retry": f"{prefix}.jobs.retry",
            "dead": f"{prefix}.jobs.dead",
        }
        self._policy = policy
        self._clock = Clock()
        self._connection: AbstractRobustConnection | None = None
        self._channel: Any = None
        self._exchange: Any = None

    async def start(self) -> None:
        self._connection = await aio_pika.connect_robust(self._url, timeout=10)
        # Publisher confirms: `publish` returns only once the broker has the message.
        self._channel = await self._connection.channel(publisher_confirms=True)
        await self._channel.set_qos(prefetch_count=10)
        self._exchange = await self._declare(self._channel)

    async def _declare(self, channel: Any) -> Any:
        names = self._names
        jobs = await channel.declare_exchange(names["jobs"], "direct", durable=True)
        dead = await channel.declare_exchange(names["dead"], "fanout", durable=True)
        dead_queue = await channel.declare_queue(names["dead"], durable=True)
        await dead_queue.bind(dead)
        queue = await channel.declare_queue(
            names["jobs"], durable=True, arguments={"x-dead-letter-exchange": names["dead"]}
        )
        await queue.bind(jobs, ROUTING_KEY)
        await channel.declare_queue(
            names["retry"],
            durable=True,
            arguments={
                "x-dead-letter-exchange": names["jobs"],
                "x-dead-letter-routing-key": ROUTING_KEY,
            },
        )
        return jobs

    async def publish(self, job: Job) -> None:
        await self._send(self._exchange, ROUTING_KEY, job, attempt=job.attempts)

    async def _send(
        self, exchange: Any, routing_key: str, job: Job, *, attempt: int, **extra: Any
    ) -> None:
        message = aio_pika.Message(
            job.encode(),
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            message_id=str(job.id),
            content_type="application/json",
            headers={"x-attempt": attempt},
            **extra,
        )
        await exchange.publish(message, routing_key=routing_key, timeout=10)

    async def consume(self, registry: JobRegistry) -> None:
        queue = await self._channel.get_queue(self._names["jobs"])

        async def on_message(message: AbstractIncomingMessage) -> None:
            attempt = int(str((message.headers or {}).get("x-attempt", 0) or 0))
            try:
                job = Job.decode(message.body, attempt)
            except (ValueError, KeyError):
                logger.error("undecodable job dead-lettered")
                await message.reject(requeue=False)
                return
            try:
                await registry.run(job)
            except Deferred as deferred:
                await self._park(message, job, attempt, self._wait_until(deferred))
                return
            except Exception as exc:  # noqa: BLE001 - any failure is retried, then dead-lettered
                await self._retry_or_bury(registry, message, job, attempt + 1, exc)
                return
            await message.ack()
            metrics.job_finished(job.kind)

        await queue.consume(on_message, no_ack=False)

    def _wait_until(self, deferred: Deferred) -> float:
        if deferred.until is None:
            return self._policy.delay(1)
        return max(0.0, (deferred.until - self._clock.now()) / timedelta(seconds=1))

    async def _retry_or_bury(
        self,
        registry: JobRegistry,
        message: AbstractIncomingMessage,
        job: Job,
        attempt: int,
        error: Exception,
    ) -> None:
        if self._policy.exhausted(attempt):
            logger.error("job %s (%s) failed %d times; dead-lettered", job.id, job.kind, attempt)
            await registry.dead(job)
            await message.reject(requeue=False)
            metrics.job_dead_lettered(job.kind)
            return
        metrics.job_retried(job.kind)
        delay = self._policy.delay(attempt)
        logger.warning(
            "job %s (%s) failed (%s); retry %d in %.1fs",
            job.id,
            job.kind,
            type(error).__name__,
            attempt,
            delay,
        )
        await self._park(message, job, attempt, delay)

    async def _park(
        self, message: AbstractIncomingMessage, job: Job, attempt: int, delay: float
    ) -> None:
        """Into the retry queue until its expiration, then back to the jobs queue."""
        await self._send(
            self._channel.default_exchange,
            self._names["retry"],
            job,
            attempt=attempt,
            expiration=delay,
        )
        await message.ack()

    async def close(self) -> None:
        if self._connection is not None:
            await self._connection.close()
            self._connection = None
