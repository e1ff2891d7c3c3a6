"""Group commit: concurrent requests written by one writer task, many per transaction.

Used by chat messages (chat/service.py) and the audit trail (audit/trail.py). Under load, one
transaction (and one commit) per text message was the first ceiling: each costs several
statements and round trips of driver and SQLAlchemy overhead (bench/README.md).
`GroupCommit` queues requests; its writer takes whatever is waiting (up to `max_batch`, after
an optional short window) and hands the lot to `write_batch`, which stores them in one
transaction. Each request still gets its own result or its own domain error.

If the batch transaction fails as a whole (a constraint race, a deadlock, a bug), nothing of it
was committed; the writer then stores the requests one by one with `write_one`, so one bad
request cannot sink the others and no message is lost or half-stored. A database that is away
fails everyone in the batch with the same Unavailable error, as it would have one by one.
There is one writer per event loop, and it writes batches (and fallbacks) strictly in the
order requests were submitted, so what chains rows (the audit HMAC chain) sees that order.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from medtalk.core.errors import MedtalkError, Unavailable

logger = logging.getLogger(__name__)

Request = TypeVar("Request")
Result = TypeVar("Result")


class GroupCommit(Generic[Request, Result]):
    def __init__(
        self,
        # Per request and in order: its result, or the domain error that refused it.
        write_batch: Callable[[Sequence[Request]], Awaitable[list[Result | MedtalkError]]],
        write_one: Callable[[Request], Awaitable[Result]],
        *,
        max_batch: int,
        window_seconds: float = 0.0,
    ) -> None:
        self._write_batch = write_batch
        self._write_one = write_one
        self._max_batch = max_batch
        self._window = window_seconds
        self._queue: asyncio.Queue[tuple[Request, asyncio.Future[Result]]] | None = None
        self._writer: asyncio.Task[None] | None = None

    async def submit(self, request: Request) -> Result:
        """Store `request` (in some batch); returns once its transaction committed."""
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._ensure_writer().put_nowait((request, future))
        return await future

    def _ensure_writer(self) -> asyncio.Queue[tuple[Request, asyncio.Future[Result]]]:
        loop = asyncio.get_running_loop()
        if self._queue is None or self._writer is None or self._writer.get_loop() is not loop:
            self._queue = asyncio.Queue()
            self._writer = loop.create_task(self._run(self._queue))
        return self._queue

    async def _run(self, queue: asyncio.Queue[tuple[Request, asyncio.Future[Result]]]) -> None:
        while True:
            batch = [await queue.get()]
            if self._window and queue.qsize() < self._max_batch - 1:
                await asyncio.sleep(self._window)
            while len(batch) < self._max_batch and not queue.empty():
                batch.append(queue.get_nowait())
            # Callers that gave up (their socket closed) need no write at all.
            batch = [(request, future) for request, future in batch if not future.done()]
            if batch:
                await self._write(batch)

    async def _write(self, batch: list[tuple[Request, asyncio.Future[Result]]]) -> None:
        try:
            results = await self._write_batch([request for request, _ in batch])
        except Unavailable as error:
            for _, future in batch:
                _settle(future, error=error)
            return
        except Exception:  # noqa: BLE001 - rolled back as a whole: retry one by one
            if len(batch) > 1:
                logger.warning("a batch of %d writes failed; storing them one by one", len(batch))
            await self._one_by_one(batch)
            return
        for (_, future), result in zip(batch, results, strict=True):
            if isinstance(result, MedtalkError):
                _settle(future, error=result)
            else:
                _settle(future, result=result)

    async def _one_by_one(self, batch: list[tuple[Request, asyncio.Future[Result]]]) -> None:
        for request, future in batch:
            try:
                result = await self._write_one(request)
            except Exception as error:  # noqa: BLE001 - this caller hears of it
                _settle(future, error=error)
            else:
                _settle(future, result=result)


def _settle(
    future: asyncio.Future[Result],
    *,
    result: Result | None = None,
    error: BaseException | None = None,
) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)  # type: ignore[arg-type]
