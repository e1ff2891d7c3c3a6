"""asyncio's Queue and Event as engine.io and uvicorn use them, without their idle cost.

Memory per idle connection (issue 15): every open socket has two queues (uvicorn's received
messages, engine.io's packets to send) and an event (uvicorn's "writable"). asyncio's Queue
allocates four deques (getters, putters, items, and its `join` event's waiters) and an Event
one, about 750 bytes each, empty or not. These keep nothing while idle: a list for the one
waiting reader, a deque only while items wait, an event for `join` only while someone joins.
Same behaviour as asyncio's for the methods they have (FIFO, unbounded, cancellation-safe).
"""

from __future__ import annotations

import asyncio
import collections
from typing import Generic, TypeVar

T = TypeVar("T")


class LeanQueue(Generic[T]):
    """An unbounded FIFO queue: put, get (waits), get_nowait, task_done, join, empty."""

    __slots__ = ("_items", "_getters", "_unfinished", "_finished")

    def __init__(self) -> None:
        self._items: collections.deque[T] | None = None
        self._getters: list[asyncio.Future[None]] | None = None
        self._unfinished = 0
        self._finished: asyncio.Event | None = None

    def qsize(self) -> int:
        return len(self._items) if self._items else 0

    def empty(self) -> bool:
        return not self._items

    def put_nowait(self, item: T) -> None:
        if self._items is None:
            self._items = collections.deque()
        self._items.append(item)
        self._unfinished += 1
        self._wake_next_getter()

    async def put(self, item: T) -> None:
        self.put_nowait(item)  # unbounded: never waits

    def get_nowait(self) -> T:
        if not self._items:
            raise asyncio.QueueEmpty
        item = self._items.popleft()
        if not self._items:
            self._items = None
        return item

    async def get(self) -> T:
        while not self._items:
            getter = asyncio.get_running_loop().create_future()
            if self._getters is None:
                self._getters = []
            self._getters.append(getter)
            try:
                await getter
            except BaseException:
                getter.cancel()  # in case it is not done yet
                self._forget_getter(getter)
                if self._items and not getter.cancelled():
                    self._wake_next_getter()  # woken, then cancelled: pass the item on
                raise
        return self.get_nowait()

    def task_done(self) -> None:
        if self._unfinished <= 0:
            raise ValueError("task_done() called too many times")
        self._unfinished -= 1
        if self._unfinished == 0 and self._finished is not None:
            self._finished.set()
            self._finished = None

    async def join(self) -> None:
        if self._unfinished > 0:
            if self._finished is None:
                self._finished = asyncio.Event()
            await self._finished.wait()

    def _wake_next_getter(self) -> None:
        while self._getters:
            getter = self._getters.pop(0)
            if not getter.done():
                getter.set_result(None)
                break
        if not self._getters:
            self._getters = None

    def _forget_getter(self, getter: asyncio.Future[None]) -> None:
        if self._getters and getter in self._getters:
            self._getters.remove(getter)
            if not self._getters:
                self._getters = None


class LeanEvent:
    """asyncio.Event's set, clear, is_set and wait; a waiter list only while someone waits."""

    __slots__ = ("_value", "_waiters")

    def __init__(self) -> None:
        self._value = False
        self._waiters: list[asyncio.Future[None]] | None = None

    def is_set(self) -> bool:
        return self._value

    def set(self) -> None:
        if self._value:
            return
        self._value = True
        waiters, self._waiters = self._waiters, None
        for waiter in waiters or ():
            if not waiter.done():
                waiter.set_result(None)

    def clear(self) -> None:
        self._value = False

    async def wait(self) -> bool:
        if self._value:
            return True
        waiter = asyncio.get_running_loop().create_future()
        if self._waiters is None:
            self._waiters = []
        self._waiters.append(waiter)
        try:
            await waiter
            return True
        finally:
            if self._waiters and waiter in self._waiters:
                self._waiters.remove(waiter)
                if not self._waiters:
                    self._waiters = None
