"""INSERT ... ON CONFLICT, the same statement on PostgreSQL and SQLite.

Both dialects have `insert(...).on_conflict_do_update/do_nothing` with `excluded`, but each in
its own module; stores call `insert(db, table)` and write the conflict clause once.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection


def insert(db: AsyncConnection, table: sa.Table) -> Any:
    """This connection's dialect's INSERT of `table`, which takes an ON CONFLICT clause."""
    return (postgresql if db.dialect.name == "postgresql" else sqlite).insert(table)
