"""Stopping background tasks so that stopping always ends.

On Python 3.11, `asyncio.wait_for` drops a cancellation that arrives in the same loop turn as
the thing it waits for completes (CPython gh-86296, fixed in 3.12). redis-py waits for every
socket write that way, and so does `Clock.sleep_until`; a task cancelled at that moment runs
on, and a plain `cancel(); await task` then waits for ever (a shutdown that never ends). So:
cancel, wait a little, and cancel again until the task has ended.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

# Long enough for a task's own clean-up (a `finally` that hands work back) to finish before
# it is cancelled again; a dropped cancellation is retried after this.
RECANCEL_AFTER_SECONDS = 1.0


async def cancel_and_wait(
    tasks: Iterable[asyncio.Task[object]] | asyncio.Task[object],
    *,
    recancel_after: float = RECANCEL_AFTER_SECONDS,
) -> None:
    """Cancel `tasks` and return once every one has ended; their outcomes are consumed."""
    every = [tasks] if isinstance(tasks, asyncio.Task) else list(tasks)
    pending = {task for task in every if not task.done()}
    while pending:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=recancel_after)
    # Ended tasks' errors are retrieved, so asyncio does not log them as never retrieved.
    await asyncio.gather(*every, return_exceptions=True)
