"""db/sqlite_driver.py: what SQLAlchemy reads from a cursor is what its own adapter gave, with
one thread hop per statement (a real SQLite file through aiosqlite, no double)."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import create_async_engine

from medtalk.db.sqlite_driver import one_hop_dbapi

things = sa.Table(
    "things",
    sa.MetaData(),
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(20), unique=True),
)


async def test_rows_counts_ids_and_errors_come_back_as_from_sqlalchemys_adapter(
    tmp_path: Path,
) -> None:
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 't.db'}", module=one_hop_dbapi())
    try:
        async with engine.begin() as db:
            await db.run_sync(things.metadata.create_all)
            inserted = await db.execute(things.insert().values(name="a"))
            assert inserted.inserted_primary_key == (1,)  # lastrowid
            many = await db.execute(things.insert(), [{"name": "b"}, {"name": "c"}])
            assert many.rowcount == 2
            updated = await db.execute(things.update().where(things.c.id > 1).values(name=None))
            assert updated.rowcount == 2
            returned = await db.execute(
                things.update().where(things.c.id == 1).values(name="z").returning(things.c.name)
            )
            assert returned.scalar_one() == "z"
            rows = await db.execute(sa.select(things.c.id, things.c.name).order_by(things.c.id))
            assert list(rows.keys()) == ["id", "name"]  # the description
            assert [tuple(row) for row in rows] == [(1, "z"), (2, None), (3, None)]
        with pytest.raises(IntegrityError):
            async with engine.begin() as db:
                await db.execute(things.insert().values(id=1, name="again"))
        async with engine.connect() as db:  # the failed transaction left nothing behind
            assert (await db.execute(sa.select(sa.func.count()).select_from(things))).scalar() == 3
    finally:
        await engine.dispose()
