"""Job queue backends behind one interface, chosen by configuration in `create_queue`."""

from __future__ import annotations

from medtalk.core.retry import RetryPolicy
from medtalk.jobs.queue.base import JobQueue
from medtalk.jobs.queue.inprocess import InProcessQueue
from medtalk.settings import Settings

__all__ = ["InProcessQueue", "JobQueue", "create_queue"]


def create_queue(settings: Settings, policy: RetryPolicy) -> JobQueue:
    """RabbitMQ when MEDTALK_AMQP_URL is set; else jobs run in-process from the outbox."""
    if settings.amqp_url:
        from medtalk.jobs.queue.rabbitmq import RabbitMQQueue

        return RabbitMQQueue(settings.amqp_url, settings.amqp_prefix, policy)
    return InProcessQueue()
