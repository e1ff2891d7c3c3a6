"""Apply a job's effect once, even when the job runs twice (a redelivery, a retry)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

from sqlalchemy.exc import IntegrityError

from medtalk.core.clock import Clock
from medtalk.db.engine import Database
from medtalk.jobs import store as job_store
from medtalk.jobs.registry import JobBusy

# A runner that claimed an effect and then vanished is presumed dead after this long.
CLAIM_LEASE = timedelta(seconds=60)


async def once(db: Database, clock: Clock, key: str, effect: Callable[[], Awaitable[None]]) -> None:
    """Run `effect` unless a run applied `key` already. JobBusy (the job comes back later)
    while another run holds the claim; a failed effect gives the claim up and raises."""
    try:
        async with db.transaction() as connection:
            claim = await job_store.claim_run(connection, key, clock.now(), CLAIM_LEASE)
    except IntegrityError:
        raise JobBusy(key) from None  # a concurrent run inserted the claim first
    if claim is job_store.Claim.BUSY:
        raise JobBusy(key)
    if claim is job_store.Claim.DONE:
        return
    try:
        await effect()
    except BaseException:
        async with db.transaction() as connection:
            await job_store.drop_claim(connection, key)
        raise
    async with db.transaction() as connection:
        await job_store.run_done(connection, key, clock.now())
