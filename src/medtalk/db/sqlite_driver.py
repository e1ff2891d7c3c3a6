"""SQLAlchemy's aiosqlite adapter, with one thread hop per statement instead of three or four.

aiosqlite runs each call on its own thread; SQLAlchemy's adapter makes one call to open a
cursor, one to execute, one to fetch the rows and one to close it, and every call is a round
trip through a queue, a future and the event loop's self-pipe. Here a statement is one function
run on aiosqlite's thread (open, execute, fetch, close), so a query costs about a quarter of the
CPU and waits a quarter as often (bench/README.md, issue 15). SQLite is the embedded default:
every request on one machine goes through this.

It leans on aiosqlite's `_execute` (queue a function on its thread) and SQLAlchemy's adapter
classes, both pinned in requirements.lock; tests/unit/test_sqlite_driver.py checks what the
rest of SQLAlchemy reads from a cursor (rows, description, rowcount, lastrowid, errors).
"""

from __future__ import annotations

import collections
import sqlite3
from collections.abc import Sequence
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util import EMPTY_DICT

_Result = tuple[Any, list[Any], int, int | None]  # description, rows, rowcount, lastrowid


def _execute(connection: sqlite3.Connection, operation: str, parameters: Any) -> _Result:
    """One statement on aiosqlite's thread, start to end."""
    cursor = connection.cursor()
    try:
        cursor.execute(operation, () if parameters is None else parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else []
        return description, rows, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


def _executemany(connection: sqlite3.Connection, operation: str, parameters: Any) -> _Result:
    cursor = connection.cursor()
    try:
        cursor.executemany(operation, parameters)
        return cursor.description, [], cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


def _executemany_each(
    connection: sqlite3.Connection, statements: Sequence[tuple[str, list[tuple[Any, ...]]]]
) -> None:
    for operation, rows in statements:
        connection.executemany(operation, rows)


async def executemany_each(
    driver: aiosqlite.Connection, statements: Sequence[tuple[str, list[tuple[Any, ...]]]]
) -> None:
    """Each (statement, rows) with executemany, in order, in ONE hop to aiosqlite's thread (a
    message batch's writes, db/together.py), on the connection's current transaction."""
    await driver._execute(_executemany_each, driver._conn, statements)  # type: ignore[no-untyped-call]


class OneHopCursor(AsyncAdapt_aiosqlite_cursor):
    """A cursor that holds a finished statement's results (no aiosqlite cursor behind it)."""

    __slots__ = ("_description", "_rowcount", "_lastrowid")

    def __init__(self, adapt_connection: Any) -> None:  # no cursor to open: nothing to await
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None  # type: ignore[assignment]
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> int:
        return self._lastrowid  # type: ignore[return-value]

    async def _async_soft_close(self) -> None:
        return None  # the statement's cursor is closed already, its description kept

    async def _execute_async(self, operation: Any, parameters: Any) -> Any:
        await self._run(_execute, operation, parameters)

    async def _executemany_async(self, operation: Any, seq_of_parameters: Any) -> Any:
        await self._run(_executemany, operation, seq_of_parameters)

    async def _run(self, how: Any, operation: Any, parameters: Any) -> None:
        connection: aiosqlite.Connection = self._connection  # type: ignore[assignment]
        async with self._adapt_connection._execute_mutex:
            result: _Result = await connection._execute(  # type: ignore[no-untyped-call]
                how, connection._conn, operation, parameters
            )
        self._description, rows, self._rowcount, self._lastrowid = result
        self._rows = collections.deque(rows)


class OneHopConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()
    _cursor_cls = OneHopCursor


class OneHopDBAPI(AsyncAdapt_aiosqlite_dbapi):
    """The DB-API module SQLAlchemy's aiosqlite dialect is given (`module=`)."""

    def connect(self, *arg: Any, **kw: Any) -> OneHopConnection:
        adapted = super().connect(*arg, **kw)
        return OneHopConnection(self, adapted._connection)


def one_hop_dbapi() -> OneHopDBAPI:
    return OneHopDBAPI(aiosqlite, sqlite3)
