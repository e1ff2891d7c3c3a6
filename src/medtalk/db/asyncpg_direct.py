"""The send path's statements straight on asyncpg, inside SQLAlchemy's transaction (issue 15).

SQLAlchemy's wrapping of each asyncpg statement (execution context, cursor adapter, result
object, a greenlet switch) cost more CPU than asyncpg's own work: about 0.5 ms of a one-message
batch's 2.6 ms here (bench/README.md). The statements every message batch runs (the
conversations' lock, the audit chain's claim, the batch's writes) go to the asyncpg connection
under SQLAlchemy's, in the same transaction:
- SQLAlchemy's adapter sends BEGIN lazily, with its first statement; `_begun` sends it here
  when no statement has yet, so a direct statement is never outside the transaction, and the
  adapter's COMMIT or ROLLBACK ends it as before;
- an error comes out as SQLAlchemy's (IntegrityError, DBAPIError with the SQLSTATE ...),
  translated as the adapter translates its own, so callers and `Database` handle it as before.
This leans on three internals of SQLAlchemy's asyncpg adapter (`_transaction`,
`_start_transaction`, `_handle_exception`; the version is pinned in requirements.lock);
tests/integration/test_asyncpg_direct.py checks the transaction and the errors.
PostgreSQL only: SQLite has its own short path (db/together.py, db/sqlite_driver.py).
"""

from __future__ import annotations

from typing import Any, NoReturn

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection


async def fetch(db: AsyncConnection, sql: str, *args: Any) -> list[Any]:
    """The rows of `sql` (asyncpg Records), in the transaction of `db`."""
    adapted = await _begun(db)
    try:
        rows: list[Any] = await adapted.driver_connection.fetch(sql, *args)
    except Exception as error:
        _raise_translated(db, adapted, sql, args, error)
    return rows


async def execute(db: AsyncConnection, sql: str, *args: Any) -> None:
    """Run `sql` (one statement, `$n` parameters) in the transaction of `db`; no rows."""
    await fetch(db, sql, *args)  # asyncpg's execute with arguments prepares all the same


async def _begun(db: AsyncConnection) -> Any:
    """SQLAlchemy's adapter of the asyncpg connection, its transaction begun."""
    adapted = (await db.get_raw_connection()).dbapi_connection
    if adapted is None:
        raise RuntimeError("the connection is closed")
    if adapted._transaction is None and not adapted.autocommit:
        await adapted._start_transaction()
    return adapted


def _raise_translated(
    db: AsyncConnection, adapted: Any, sql: str, args: tuple[Any, ...], error: Exception
) -> NoReturn:
    """Raise `error` as SQLAlchemy raises a failed statement's error."""
    try:
        adapted._handle_exception(error)  # raises the DBAPI error the adapter maps it to
    except db.dialect.loaded_dbapi.Error as dbapi_error:
        raise DBAPIError.instance(
            sql,
            args,
            dbapi_error,
            db.dialect.loaded_dbapi.Error,
            hide_parameters=True,  # values are message content and ids: never in a log
            connection_invalidated=adapted.driver_connection.is_closed(),
            dialect=db.dialect,
        ) from error
    raise error  # not reached: the adapter re-raises what it cannot map
