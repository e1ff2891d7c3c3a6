"""Stopping a background task ends even when the interpreter drops the cancellation.

CI hung for two minutes stopping the presence mirror: its task was cancelled just as a Redis
write (an `asyncio.wait_for` inside redis-py) completed, Python 3.11 dropped the cancellation,
and the task went back to waiting for the next message. Here that moment is made on purpose,
with the real `asyncio.wait_for`, no stand-in.
"""

from __future__ import annotations

import asyncio
import sys

from medtalk.core.tasks import cancel_and_wait


async def test_a_task_whose_cancellation_was_dropped_is_still_stopped() -> None:
    loop = asyncio.get_running_loop()
    write_done: asyncio.Future[None] = loop.create_future()
    went_on = asyncio.Event()

    async def listener() -> None:
        await asyncio.wait_for(write_done, 10)  # a socket write, as redis-py waits for it
        went_on.set()
        await asyncio.Event().wait()  # back to listening for the next message, for ever

    task = asyncio.create_task(listener())
    await asyncio.sleep(0)  # the listener is inside wait_for
    write_done.set_result(None)  # the write completes...
    await asyncio.sleep(0)  # ...wait_for's waiter is released in this turn...
    await asyncio.wait_for(cancel_and_wait(task, recancel_after=0.05), 5)  # ...and we cancel

    assert task.done() and task.cancelled()
    if sys.version_info < (3, 12):
        # The case this is for: the first cancellation was lost, the listener went on.
        assert went_on.is_set()


async def test_every_task_ends_and_a_failed_one_does_not_raise_here() -> None:
    async def sleeper() -> None:
        await asyncio.sleep(3600)

    async def failed() -> None:
        raise RuntimeError("already failed before the stop")

    tasks = [asyncio.create_task(sleeper()), asyncio.create_task(failed())]
    await asyncio.sleep(0)
    await asyncio.wait_for(cancel_and_wait(tasks), 5)
    assert tasks[0].cancelled()
    assert isinstance(tasks[1].exception(), RuntimeError)
