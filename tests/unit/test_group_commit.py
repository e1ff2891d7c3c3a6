"""GroupCommit (db/group_commit.py) on its own: how requests are grouped, and what a failed batch
does. The write functions here are plain coroutines standing in for the database (a test double:
the point is the grouping and fallback logic; tests/integration/test_chat_group_commit.py runs
the real thing on SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from medtalk.core.errors import Invalid, MedtalkError, Unavailable
from medtalk.db.group_commit import GroupCommit


class Store:
    def __init__(self, fail_batches_with: Exception | None = None) -> None:
        self.rows: list[int] = []
        self.batches: list[list[int]] = []
        self.singles: list[int] = []
        self.fail_batches_with = fail_batches_with

    async def write_batch(self, requests: Sequence[int]) -> list[int | MedtalkError]:
        self.batches.append(list(requests))
        await asyncio.sleep(0.01)  # a transaction's round trips: later requests queue meanwhile
        if self.fail_batches_with is not None:
            raise self.fail_batches_with
        results: list[int | MedtalkError] = []
        for request in requests:
            if request < 0:
                results.append(Invalid("negative"))
            else:
                self.rows.append(request)
                results.append(request * 10)
        return results

    async def write_one(self, request: int) -> int:
        self.singles.append(request)
        if request == 13:
            raise ValueError("this one cannot be stored")
        self.rows.append(request)
        return request * 10


async def test_concurrent_requests_share_a_transaction_and_keep_their_own_results() -> None:
    store = Store()
    writer: GroupCommit[int, int] = GroupCommit(store.write_batch, store.write_one, max_batch=50)
    results = await asyncio.gather(*(writer.submit(i) for i in range(1, 31)))
    assert results == [i * 10 for i in range(1, 31)]
    assert len(store.batches) < 5  # the first alone, then the rest together
    assert sorted(store.rows) == list(range(1, 31))


async def test_a_refused_request_fails_alone() -> None:
    store = Store()
    writer: GroupCommit[int, int] = GroupCommit(store.write_batch, store.write_one, max_batch=50)
    outcomes = await asyncio.gather(*(writer.submit(i) for i in (1, -2, 3)), return_exceptions=True)
    assert outcomes[0] == 10 and outcomes[2] == 30
    assert isinstance(outcomes[1], Invalid)


async def test_batches_are_capped() -> None:
    store = Store()
    writer: GroupCommit[int, int] = GroupCommit(store.write_batch, store.write_one, max_batch=4)
    await asyncio.gather(*(writer.submit(i) for i in range(1, 11)))
    assert max(len(batch) for batch in store.batches) <= 4


async def test_a_failed_batch_is_stored_one_by_one_and_only_the_bad_request_fails() -> None:
    store = Store(fail_batches_with=RuntimeError("deadlock detected"))
    writer: GroupCommit[int, int] = GroupCommit(store.write_batch, store.write_one, max_batch=50)
    outcomes = await asyncio.gather(
        *(writer.submit(i) for i in (11, 12, 13, 14)), return_exceptions=True
    )
    assert outcomes[0] == 110 and outcomes[1] == 120 and outcomes[3] == 140
    assert isinstance(outcomes[2], ValueError)
    assert sorted(store.rows) == [11, 12, 14]  # each stored once, by the one-by-one pass


async def test_a_database_that_is_away_fails_the_batch_without_retrying_each() -> None:
    store = Store(fail_batches_with=Unavailable("the database is unavailable; please retry"))
    writer: GroupCommit[int, int] = GroupCommit(store.write_batch, store.write_one, max_batch=50)
    outcomes = await asyncio.gather(*(writer.submit(i) for i in (1, 2)), return_exceptions=True)
    assert all(isinstance(outcome, Unavailable) for outcome in outcomes)
    assert store.singles == [] and store.rows == []


async def test_a_caller_that_gave_up_is_not_written() -> None:
    store = Store()
    writer: GroupCommit[int, int] = GroupCommit(store.write_batch, store.write_one, max_batch=50)
    first = asyncio.ensure_future(writer.submit(1))
    await asyncio.sleep(0)  # the writer takes 1 and starts its transaction
    doomed = asyncio.ensure_future(writer.submit(2))
    await asyncio.sleep(0)
    doomed.cancel()
    with pytest.raises(asyncio.CancelledError):
        await doomed
    assert await first == 10
    assert await writer.submit(3) == 30
    assert 2 not in store.rows
