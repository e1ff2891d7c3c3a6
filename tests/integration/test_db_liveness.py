"""Pooled PostgreSQL connections survive a server restart without a ping per checkout."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa

from cluster import PrivatePostgres, pg_bin
from medtalk.db.engine import Database, create_engine
from medtalk.settings import Settings


@pytest.fixture
def private_postgres() -> PrivatePostgres:
    if pg_bin("initdb") is None:
        pytest.fail("PostgreSQL server binaries (initdb, pg_ctl) are required for this test")
    postgres = PrivatePostgres()
    postgres.init()
    postgres.start()
    yield postgres  # type: ignore[misc]
    postgres.remove()


async def _backend_pid(db: Database) -> int:
    async with db.transaction() as connection:
        return int((await connection.execute(sa.text("SELECT pg_backend_pid()"))).scalar_one())


async def test_first_request_after_a_postgres_restart_succeeds(
    private_postgres: PrivatePostgres,
) -> None:
    db = Database(
        create_engine(Settings(database_url=private_postgres.url, database_pool_size=3)),
        serialize_writes=False,
    )
    try:
        before = await asyncio.gather(*(_backend_pid(db) for _ in range(3)))
        # Reused from the pool while the server is up: no reconnect per checkout.
        assert await _backend_pid(db) in before
        await asyncio.to_thread(private_postgres.stop)
        await asyncio.to_thread(private_postgres.start)
        await asyncio.sleep(0.1)  # the loop reads the hang-ups of the pooled connections
        after = [await _backend_pid(db) for _ in range(3)]  # no Unavailable on any of them
        assert not set(after) & set(before)
    finally:
        await db.close()
