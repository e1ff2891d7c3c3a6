"""Async engine and transactions; SQLite (WAL, embedded) or PostgreSQL (asyncpg) by URL."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.exc import DBAPIError, InterfaceError, InvalidatePoolError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from medtalk.core.errors import Unavailable
from medtalk.db.sqlite_driver import one_hop_dbapi
from medtalk.settings import Settings

logger = logging.getLogger(__name__)

# Key of the on-commit callbacks in a connection's `info` (see `after_commit`).
_ON_COMMIT = "medtalk.on_commit"


def create_engine(settings: Settings) -> AsyncEngine:
    url = settings.resolved_database_url
    if settings.is_sqlite:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        # hide_parameters: SQL errors and echo never show values (content, file names).
        engine = create_async_engine(
            url, connect_args={"timeout": 30}, hide_parameters=True, module=one_hop_dbapi()
        )
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    engine = create_async_engine(
        url,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_pool_size,
        pool_timeout=10,
        hide_parameters=True,
    )
    event.listen(engine.sync_engine, "checkout", _drop_if_closed)
    return engine


def _drop_if_closed(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """Liveness on checkout without a round trip (performance, issue 15).

    `pool_pre_ping` cost three round trips per checkout on asyncpg (BEGIN, `;`, ROLLBACK).
    A PostgreSQL restart or crash closes every backend's socket; asyncpg sees the hang-up
    as soon as the event loop reads it and marks the connection closed. Such a connection
    is refused here, and the pool drops every connection older than it and opens a fresh
    one, so the first request after a restart succeeds. A connection that dies silently (a
    network partition) is still caught by the first statement: SQLAlchemy then invalidates
    the pool and the caller gets a clean Unavailable (503), as before.
    """
    driver = getattr(dbapi_connection, "driver_connection", None)
    is_closed = getattr(driver, "is_closed", None)
    if is_closed is not None and is_closed():
        raise InvalidatePoolError("the database closed this connection")


def after_commit(connection: AsyncConnection, callback: Callable[[], Awaitable[None]]) -> None:
    """Run `callback` once the transaction of `connection` (from `Database.transaction()`)
    has committed: announcements of state that must not be seen before it is stored."""
    callbacks: list[Callable[[], Awaitable[None]]] | None = connection.info.get(_ON_COMMIT)
    if callbacks is None:
        raise RuntimeError("after_commit needs a connection of Database.transaction()")
    callbacks.append(callback)


@asynccontextmanager
async def _collecting(
    connection: AsyncConnection, callbacks: list[Callable[[], Awaitable[None]]]
) -> AsyncIterator[None]:
    # `info` belongs to the pooled DBAPI connection: never leave the list behind in it.
    connection.info[_ON_COMMIT] = callbacks
    try:
        yield
    finally:
        connection.info.pop(_ON_COMMIT, None)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


# SQLSTATEs that mean "the server went away", not "your statement is wrong": connection
# exceptions (08xxx), admin/crash shutdown, and "cannot connect now" (starting or stopping).
_GONE_STATES = ("57P01", "57P02", "57P03")


def _connection_lost(exc: DBAPIError) -> bool:
    if exc.connection_invalidated or isinstance(exc, InterfaceError):
        return True
    cause = exc.orig
    inner = cause.__cause__ if cause is not None else None
    state = getattr(cause, "sqlstate", None) or getattr(inner, "sqlstate", None)
    return isinstance(state, str) and (state.startswith("08") or state in _GONE_STATES)


class Database:
    """Hands out transactions; turns 'database unreachable' into a clean Unavailable error."""

    def __init__(self, engine: AsyncEngine, *, serialize_writes: bool) -> None:
        self.engine = engine
        # SQLite has one writer at a time; queueing writers here avoids lock-upgrade deadlocks.
        self._write_lock = asyncio.Lock() if serialize_writes else None

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        """A read-write transaction, committed on success, rolled back on error.

        Callbacks registered with `after_commit(connection, ...)` run once it has committed
        (and released SQLite's write lock), in order; a rollback drops them.
        """
        callbacks: list[Callable[[], Awaitable[None]]] = []
        if self._write_lock is None:
            async with self._connect() as connection, _collecting(connection, callbacks):
                yield connection
        else:
            async with (
                self._write_lock,
                self._connect() as connection,
                _collecting(connection, callbacks),
            ):
                yield connection
        for callback in callbacks:
            try:
                await callback()
            except Exception:
                # The state is committed; an announcement that failed never fails the request.
                logger.exception("an after-commit callback failed")

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        async with self._connect() as connection:
            yield connection

    @asynccontextmanager
    async def _connect(self) -> AsyncIterator[AsyncConnection]:
        try:
            async with self.engine.begin() as connection:
                yield connection
        except (OperationalError, ConnectionError, OSError) as exc:
            raise Unavailable("the database is unavailable; please retry") from exc
        except DBAPIError as exc:
            if _connection_lost(exc):
                raise Unavailable("the database connection was lost; please retry") from exc
            raise

    async def ping(self) -> None:
        async with self.read() as connection:
            await connection.execute(sa.text("SELECT 1"))

    async def close(self) -> None:
        await self.engine.dispose()
