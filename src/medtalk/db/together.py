"""A transaction's writes to several tables, sent together (issue 15: round trips per batch).

Each store describes its write as a `Write`: a statement run with many rows, as any database
runs it, and on PostgreSQL the same write fed by arrays (`unnest`), so that `run` can send all
of a batch's writes as ONE statement of data-modifying CTEs. A message batch (its rows, their
search terms, the conversations' newest seq, offline jobs, audit rows and the chain head) was
eight round trips to PostgreSQL; it is one. Each socket write and each wake-up of the event
loop costs CPU, and the single writer waits for every round trip (bench/README.md).

SQLite has no round trips to save (it runs in-process): there the writes run one by one, in
order. In one PostgreSQL statement the parts run on one snapshot and cannot see each other's
rows, so a batch's writes must not depend on one another (none of the send path's do).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection

_PG = postgresql.dialect()  # type: ignore[no-untyped-call]


@dataclass(frozen=True)
class Write:
    """One store's write: `statement` with `rows` as SQLite runs it, and `fragment` with
    `params` as PostgreSQL runs it (a data-modifying statement; `{}` marks each parameter)."""

    statement: sa.Executable
    rows: Sequence[Mapping[str, Any]] | Mapping[str, Any]
    fragment: str
    params: tuple[Any, ...]


def unnest_insert(
    table: sa.Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    statement: sa.Executable | None = None,
    on_conflict: str = "",
) -> Write:
    """INSERT of `rows` (each with the same keys): on PostgreSQL one array per column.

    `statement`: SQLite's statement when it is more than a plain INSERT (an upsert), with
    `on_conflict` the same clause for PostgreSQL, written out.
    """
    names = list(rows[0])
    arrays = tuple([plain(row[name]) for row in rows] for name in names)
    casts = ", ".join(f"{{}}::{_pg_type(table.c[name])}[]" for name in names)
    fragment = (
        f"INSERT INTO {table.name} ({', '.join(names)}) SELECT * FROM unnest({casts})"
        f"{' ' + on_conflict if on_conflict else ''}"
    )
    return Write(statement if statement is not None else table.insert(), rows, fragment, arrays)


async def run(db: AsyncConnection, writes: Sequence[Write]) -> None:
    """The writes, in order, inside the caller's transaction (one statement on PostgreSQL)."""
    if not writes:
        return
    if db.dialect.name != "postgresql":
        for write in writes:
            await db.execute(write.statement, write.rows)
        return
    sql, params = _together(writes)
    await db.exec_driver_sql(sql, params)


def _together(writes: Sequence[Write]) -> tuple[str, tuple[Any, ...]]:
    """WITH w0 AS (...), w1 AS (...) SELECT 1, the parameters numbered $1, $2 ... in order.
    The text depends only on which writes are there, so the prepared statement is reused."""
    parts: list[str] = []
    params: list[Any] = []
    for index, write in enumerate(writes):
        numbers = [f"${len(params) + k + 1}" for k in range(len(write.params))]
        parts.append(f"w{index} AS ({write.fragment.format(*numbers)})")
        params.extend(write.params)
    return "WITH " + ", ".join(parts) + " SELECT 1", tuple(params)


@cache  # compiling a type is not free, and the send path asks for the same columns each time
def _pg_type(column: sa.Column[Any]) -> str:
    return str(column.type.compile(dialect=_PG))


def plain(value: Any) -> Any:
    """What asyncpg takes: timestamps as naive UTC (db/tables.py UTCDateTime)."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value
