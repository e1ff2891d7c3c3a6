"""A transaction's writes to several tables, sent together (issue 15: round trips per batch).

Each store describes its write as a `Write`: rows of values for some columns, and the statement
that writes one row (SQLite) or all of them from one array per column (PostgreSQL's `unnest`).
`run` sends a batch's writes (a message batch: its rows, their search terms, the conversations'
newest seq, offline jobs, audit rows and the chain head) as ONE statement of data-modifying CTEs
on PostgreSQL (straight on asyncpg, db/asyncpg_direct.py), where each was a round trip; on
SQLite it runs them one after another on the driver's connection, all in one hop to aiosqlite's
thread (db/sqlite_driver.py), where SQLAlchemy's adapter made three or four hops a statement.
Every round trip and hop costs CPU, and the single writer (db/group_commit.py) waits for each.

In one PostgreSQL statement the parts run on one snapshot and cannot see each other's rows, so
a batch's writes must not depend on one another (none of the send path's do).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection

from medtalk.db import asyncpg_direct, sqlite_driver

_PG = postgresql.dialect()  # type: ignore[no-untyped-call]


@dataclass(frozen=True)
class Write:
    """Rows of values for `columns` (their types say how each database stores a value), and
    the statement that writes them: `sqlite` writes one row (`?` or `?N` parameters, the
    columns in order); `postgres` writes them all, `{}` standing for each column's array."""

    columns: tuple[sa.Column[Any], ...]
    rows: list[tuple[Any, ...]]
    sqlite: str
    postgres: str


def insert_rows(table: sa.Table, rows: Sequence[Mapping[str, Any]], on_conflict: str = "") -> Write:
    """INSERT of `rows` (each with the same keys, at least one row). `on_conflict`: an upsert's
    clause, which both databases read alike."""
    names = list(rows[0])
    into = f"INSERT INTO {table.name} ({', '.join(names)})"
    tail = f" {on_conflict}" if on_conflict else ""
    return Write(
        tuple(table.c[name] for name in names),
        [tuple(row[name] for name in names) for row in rows],
        f"{into} VALUES ({', '.join(['?'] * len(names))}){tail}",
        f"{into} SELECT * FROM unnest({', '.join(['{}'] * len(names))}){tail}",
    )


async def run(db: AsyncConnection, writes: Sequence[Write]) -> None:
    """The writes, in order, inside the caller's transaction (one statement on PostgreSQL)."""
    if not writes:
        return
    if db.dialect.name == "postgresql":
        sql, params = _together(db.dialect, writes)
        await asyncpg_direct.execute(db, sql, *params)
        return
    # aiosqlite's own connection, in SQLAlchemy's transaction (the same sqlite3 connection):
    # every write in one hop to its thread, where SQLAlchemy's adapter made one a statement.
    driver = (await db.get_raw_connection()).driver_connection
    assert driver is not None
    statements = []
    for write in writes:
        stored = [_processor(db.dialect, column) or _same for column in write.columns]
        rows = [
            tuple(store(value) for store, value in zip(stored, row, strict=True))
            for row in write.rows
        ]
        statements.append((write.sqlite, rows))
    await sqlite_driver.executemany_each(driver, statements)


def _together(dialect: Dialect, writes: Sequence[Write]) -> tuple[str, tuple[Any, ...]]:
    """WITH w0 AS (...), w1 AS (...) SELECT 1, each column's values one array parameter
    ($1, $2 ... in order, cast to the column's type). The text depends only on which writes
    are there, so the prepared statement is reused."""
    parts: list[str] = []
    params: list[Any] = []
    for index, write in enumerate(writes):
        arrays = [f"${len(params) + k + 1}::{_pg_type(c)}[]" for k, c in enumerate(write.columns)]
        parts.append(f"w{index} AS ({write.postgres.format(*arrays)})")
        for k, column in enumerate(write.columns):
            values = [row[k] for row in write.rows]
            store = _processor(dialect, column)  # e.g. a timestamp as naive UTC
            params.append([store(v) for v in values] if store is not None else values)
    return "WITH " + ", ".join(parts) + " SELECT 1", tuple(params)


@cache  # compiling a type is not free, and the send path asks for the same columns each time
def _pg_type(column: sa.Column[Any]) -> str:
    return str(column.type.compile(dialect=_PG))


@cache
def _processor(dialect: Dialect, column: sa.Column[Any]) -> Callable[[Any], Any] | None:
    """How SQLAlchemy binds a value of the column for this database (db/tables.py UTCDateTime
    makes a time naive UTC; SQLite stores a UUID as hex, a time as text); None: as it is."""
    return column.type.bind_processor(dialect)


def _same(value: Any) -> Any:
    return value
