"""CPU of a one-message batch's database round trips, alone: what the send path's transaction
shape costs on this machine, apart from everything else a message does.

    .venv/bin/python bench/round_trips.py --transactions 3000 --rounds 3

Each variant runs the same statements against a scratch table on the local PostgreSQL (the
machine's, `MEDTALK_BENCH_PG` or postgresql://postgres@127.0.0.1:5432/test): a row lock, a
counter claim, a write, in one transaction. Variants, alternated round by round:
- `sqlalchemy-5`: as the send path was before `db/asyncpg_direct.py`: SQLAlchemy's pool and
  transaction, each statement through SQLAlchemy (BEGIN, lock, claim, write, COMMIT);
- `direct-5`: as it is now: SQLAlchemy's pool and transaction, the statements on asyncpg;
- `pool-5`: a connection from SQLAlchemy's pool, asyncpg's own transaction (no SQLAlchemy
  transaction);
- `asyncpg-5`: the same five round trips on a bare asyncpg connection (no SQLAlchemy at all);
- `asyncpg-4`: lock and claim as one round trip (BEGIN, lock+claim, write, COMMIT);
- `asyncpg-2`: an optimistic shape: one read, then one self-checking write in autocommit.
Prints CPU ms of this process per transaction (the database server's own CPU not counted).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import uuid
from collections.abc import Awaitable, Callable

import asyncpg
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from medtalk.db import asyncpg_direct

URL = os.environ.get("MEDTALK_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
TABLE = f"bench_rt_{uuid.uuid4().hex[:8]}"
HEAD = f"{TABLE}_head"
LOCK = f"SELECT id, n FROM {TABLE} WHERE id = ANY($1::uuid[]) FOR NO KEY UPDATE"
CLAIM = f"UPDATE {HEAD} SET seq = seq + 1 WHERE id = 1 RETURNING seq"
WRITE = f"UPDATE {TABLE} SET n = n + 1 WHERE id = $1"
LOCK_AND_CLAIM = (  # the cost of one round trip less; PostgreSQL promises no lock order here
    f"WITH c AS ({CLAIM}) SELECT t.id, t.n, c.seq FROM {TABLE} t, c WHERE t.id = $1"
    " FOR NO KEY UPDATE OF t"
)
READ = f"SELECT t.id, t.n, h.seq FROM {TABLE} t, {HEAD} h WHERE t.id = $1 AND h.id = 1"
CHECKED_WRITE = (
    f"WITH h AS (UPDATE {HEAD} SET seq = $3 + 1 WHERE id = 1 AND seq = $3 RETURNING 1),"
    f" t AS (UPDATE {TABLE} SET n = $2 + 1 WHERE id = $1 AND n = $2 AND EXISTS (SELECT 1 FROM h)"
    " RETURNING 1) SELECT count(*) FROM t"
)

Transaction = Callable[[uuid.UUID], Awaitable[None]]


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def variants(engine: AsyncEngine, bare: asyncpg.Connection) -> dict[str, Transaction]:
    lock = sa.text(LOCK.replace("$1::uuid[]", "CAST(:ids AS uuid[])"))
    claim = sa.text(CLAIM)
    write = sa.text(WRITE.replace("$1", ":id"))

    async def sqlalchemy_5(row: uuid.UUID) -> None:
        async with engine.begin() as db:
            (await db.execute(lock, {"ids": [row]})).all()
            (await db.execute(claim)).one()
            await db.execute(write, {"id": row})

    async def direct_5(row: uuid.UUID) -> None:
        async with engine.begin() as db:
            await asyncpg_direct.fetch(db, LOCK, [row])
            await asyncpg_direct.fetch(db, CLAIM)
            await asyncpg_direct.execute(db, WRITE, row)

    async def pool_5(row: uuid.UUID) -> None:
        async with engine.connect() as db:
            driver = (await db.get_raw_connection()).driver_connection
            async with driver.transaction():
                await driver.fetch(LOCK, [row])
                await driver.fetch(CLAIM)
                await driver.fetch(WRITE, row)

    async def asyncpg_5(row: uuid.UUID) -> None:
        async with bare.transaction():
            await bare.fetch(LOCK, [row])
            await bare.fetch(CLAIM)
            await bare.fetch(WRITE, row)

    async def asyncpg_4(row: uuid.UUID) -> None:
        async with bare.transaction():
            await bare.fetch(LOCK_AND_CLAIM, row)
            await bare.fetch(WRITE, row)

    async def asyncpg_2(row: uuid.UUID) -> None:
        read = await bare.fetchrow(READ, row)
        assert read is not None
        written = await bare.fetchval(CHECKED_WRITE, row, read["n"], read["seq"])
        assert written == 1  # one writer here: the optimistic check always holds

    return {
        "sqlalchemy-5": sqlalchemy_5,
        "direct-5": direct_5,
        "pool-5": pool_5,
        "asyncpg-5": asyncpg_5,
        "asyncpg-4": asyncpg_4,
        "asyncpg-2": asyncpg_2,
    }


async def run(transactions: int, rounds: int) -> None:
    engine = create_async_engine(URL.replace("postgresql://", "postgresql+asyncpg://"))
    bare = await asyncpg.connect(URL)
    rows = [uuid.uuid4() for _ in range(10)]
    await bare.execute(f"CREATE TABLE {TABLE} (id uuid PRIMARY KEY, n int NOT NULL)")
    await bare.execute(f"CREATE TABLE {HEAD} (id int PRIMARY KEY, seq bigint NOT NULL)")
    await bare.execute(f"INSERT INTO {HEAD} VALUES (1, 0)")
    await bare.executemany(f"INSERT INTO {TABLE} VALUES ($1, 0)", [(row,) for row in rows])
    results: dict[str, list[float]] = {}
    try:
        shapes = variants(engine, bare)
        for _ in range(rounds):
            for name, transaction in shapes.items():
                for k in range(100):  # warm: statement caches, pool
                    await transaction(rows[k % len(rows)])
                started = cpu_seconds()
                for k in range(transactions):
                    await transaction(rows[k % len(rows)])
                spent = cpu_seconds() - started
                results.setdefault(name, []).append(1000 * spent / transactions)
    finally:
        await bare.execute(f"DROP TABLE {TABLE}, {HEAD}")
        await bare.close()
        await engine.dispose()
    for name, figures in results.items():
        shown = ", ".join(f"{figure:.3f}" for figure in figures)
        print(
            f"{name:13s} CPU ms per transaction: median {statistics.median(figures):.3f} ({shown})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--transactions", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(run(args.transactions, args.rounds))


if __name__ == "__main__":
    main()
