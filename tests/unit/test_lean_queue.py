"""The lean queue and event every socket uses (realtime/leanasync.py) behave as asyncio's do
where engine.io and uvicorn rely on them: order, waiting, cancellation, join."""

from __future__ import annotations

import asyncio

import pytest

from medtalk.realtime.leanasync import LeanEvent, LeanQueue


async def test_items_come_out_in_order_and_a_reader_waits_for_the_next() -> None:
    queue: LeanQueue[int] = LeanQueue()
    reader = asyncio.create_task(queue.get())
    await asyncio.sleep(0)
    assert not reader.done()
    for item in (1, 2, 3):
        queue.put_nowait(item)
    assert await reader == 1
    assert [queue.get_nowait(), await queue.get()] == [2, 3]
    assert queue.empty()
    with pytest.raises(asyncio.QueueEmpty):
        queue.get_nowait()


async def test_a_reader_that_times_out_loses_no_item() -> None:
    queue: LeanQueue[str] = LeanQueue()
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(queue.get(), 0.01)  # as engine.io's poll does
    first, second = asyncio.create_task(queue.get()), asyncio.create_task(queue.get())
    await asyncio.sleep(0)
    await queue.put("a")
    first.cancel()  # woken for "a", then cancelled before it ran: "a" goes to the next reader
    assert await second == "a"
    assert first.cancelled()


async def test_join_waits_until_every_item_is_done() -> None:
    queue: LeanQueue[str] = LeanQueue()
    await queue.join()  # nothing put: returns at once
    queue.put_nowait("a")
    queue.put_nowait("b")
    joined = asyncio.create_task(queue.join())
    for _ in range(2):
        queue.get_nowait()
        await asyncio.sleep(0)
        assert not joined.done()
        queue.task_done()
    await asyncio.wait_for(joined, 1)
    with pytest.raises(ValueError):
        queue.task_done()


async def test_the_event_wakes_every_waiter_and_can_be_cleared() -> None:
    event = LeanEvent()
    waiters = [asyncio.create_task(event.wait()) for _ in range(2)]
    await asyncio.sleep(0)
    assert not any(w.done() for w in waiters)
    event.set()
    assert await asyncio.gather(*waiters) == [True, True]
    event.clear()
    assert not event.is_set()
    late = asyncio.create_task(event.wait())
    await asyncio.sleep(0)
    late.cancel()
    event.set()
    assert await event.wait()
