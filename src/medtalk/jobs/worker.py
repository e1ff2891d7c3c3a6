"""`medtalk worker`: the job runtime without the web server, until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from medtalk.app import load_keys
from medtalk.core.clock import Clock
from medtalk.db.engine import Database, create_engine
from medtalk.files.storage import create_storage
from medtalk.jobs.outbox import JobOutbox
from medtalk.jobs.runtime import JobRuntime
from medtalk.realtime.presence import create_presence
from medtalk.settings import Settings

logger = logging.getLogger(__name__)


async def run_worker(settings: Settings) -> None:
    clock = Clock()
    db = Database(create_engine(settings), serialize_writes=settings.is_sqlite)
    keys = load_keys(settings)
    presence = create_presence(settings, clock)
    runtime = JobRuntime(
        settings,
        db,
        create_storage(settings, keys),
        clock,
        presence,
        JobOutbox(clock),
        consume=True,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stop.set)
    await runtime.start()
    logger.info("worker started (%s)", "rabbitmq" if settings.amqp_url else "in-process")
    try:
        await stop.wait()
    finally:
        await runtime.stop()
        await presence.close()
        await db.close()
        logger.info("worker stopped")
