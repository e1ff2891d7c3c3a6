"""`medtalk worker`: the job runtime without the web server, until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from medtalk.jobs.runtime import JobRuntime

logger = logging.getLogger(__name__)


async def run_worker(runtime: JobRuntime, *, queue: str) -> None:
    """Run the jobs until a signal; the caller (cli.py) built them and closes what they use."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stop.set)
    await runtime.start()
    logger.info("worker started (%s)", queue)
    try:
        await stop.wait()
    finally:
        await runtime.stop()
        logger.info("worker stopped")
