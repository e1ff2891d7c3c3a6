"""The send path's direct asyncpg statements (db/asyncpg_direct.py) on a real PostgreSQL: they
run inside SQLAlchemy's transaction, hold their locks to its end, and fail as SQLAlchemy fails."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from medtalk.core.errors import Unavailable
from medtalk.db import asyncpg_direct
from medtalk.db.engine import Database, create_engine
from medtalk.settings import Settings


@pytest.fixture
async def db(postgres_url: str) -> AsyncIterator[Database]:
    database = Database(
        create_engine(Settings(database_url=postgres_url, database_pool_size=3)),
        serialize_writes=False,
    )
    table = f"direct_{uuid.uuid4().hex[:8]}"
    async with database.transaction() as connection:
        await connection.execute(sa.text(f"CREATE TABLE {table} (id int PRIMARY KEY, n int)"))
        await connection.execute(sa.text(f"INSERT INTO {table} VALUES (1, 0)"))
    database.table = table  # type: ignore[attr-defined]
    yield database
    async with database.transaction() as connection:
        await connection.execute(sa.text(f"DROP TABLE {table}"))
    await database.close()


async def _count(db: Database, table: str) -> int:
    async with db.read() as connection:
        return int((await connection.execute(sa.text(f"SELECT count(*) FROM {table}"))).scalar())


async def test_a_direct_statement_rolls_back_with_its_transaction(db: Database) -> None:
    table = db.table  # type: ignore[attr-defined]
    with pytest.raises(RuntimeError):
        async with db.transaction() as connection:
            # the first statement of the transaction: it must begin it, not autocommit
            await asyncpg_direct.execute(connection, f"INSERT INTO {table} VALUES ($1, 0)", 2)
            raise RuntimeError("the caller fails after the write")
    assert await _count(db, table) == 1
    async with db.transaction() as connection:
        await asyncpg_direct.execute(connection, f"INSERT INTO {table} VALUES ($1, 0)", 3)
        # SQLAlchemy's own statements see it: one transaction on one connection
        seen = await connection.execute(sa.text(f"SELECT count(*) FROM {table}"))
        assert seen.scalar() == 2
    assert await _count(db, table) == 2


async def test_a_direct_lock_holds_until_commit(db: Database) -> None:
    """Another writer waits for the row a direct FOR UPDATE locked, until that commits."""
    table = db.table  # type: ignore[attr-defined]
    locked, release = asyncio.Event(), asyncio.Event()

    async def holder() -> None:
        async with db.transaction() as connection:
            rows = await asyncpg_direct.fetch(
                connection, f"SELECT n FROM {table} WHERE id = $1 FOR UPDATE", 1
            )
            assert [row["n"] for row in rows] == [0]
            locked.set()
            await release.wait()
            await asyncpg_direct.execute(connection, f"UPDATE {table} SET n = 10 WHERE id = 1")

    async def other_writer() -> int:
        async with db.transaction() as connection:
            result = await connection.execute(
                sa.text(f"UPDATE {table} SET n = n + 1 WHERE id = 1 RETURNING n")
            )
            return int(result.scalar_one())

    holding = asyncio.create_task(holder())
    await locked.wait()
    waiting = asyncio.create_task(other_writer())
    await asyncio.sleep(0.3)
    assert not waiting.done(), "the lock was gone before the holder committed"
    release.set()
    await holding
    assert await waiting == 11  # it ran after the holder's commit, on its value


async def test_errors_come_out_as_sqlalchemy_errors(db: Database) -> None:
    table = db.table  # type: ignore[attr-defined]
    with pytest.raises(IntegrityError) as caught:
        async with db.transaction() as connection:
            await asyncpg_direct.execute(connection, f"INSERT INTO {table} VALUES ($1, 0)", 1)
    assert caught.value.orig.sqlstate == "23505"  # type: ignore[union-attr]
    assert "parameters hidden" in str(caught.value)  # values are content: never logged
    # the connection went back to the pool usable: the next transaction works
    assert await _count(db, table) == 1


async def test_a_lost_connection_is_unavailable_and_the_pool_recovers(db: Database) -> None:
    table = db.table  # type: ignore[attr-defined]
    with pytest.raises(Unavailable):
        async with db.transaction() as connection:
            pid = (await connection.execute(sa.text("SELECT pg_backend_pid()"))).scalar_one()
            async with db.read() as admin:
                await admin.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            await asyncpg_direct.fetch(connection, f"SELECT n FROM {table}")
    assert await _count(db, table) == 1
