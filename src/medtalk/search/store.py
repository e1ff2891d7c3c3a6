"""SQL for the blind index: terms with their message bitmaps, and each conversation's key."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from medtalk.db import together
from medtalk.db.tables import conversations, search_conversations, search_terms
from medtalk.db.together import Write
from medtalk.db.values import any_of

CHUNK = 900  # host parameters per IN (SQLite allows 32,766; keep statements small)

Row = tuple[int, int, int]  # term, block, bits


async def conversation_key(db: AsyncConnection, conversation_id: uuid.UUID) -> str | None:
    return await db.scalar(
        sa.select(search_conversations.c.key_id).where(
            search_conversations.c.conversation_id == conversation_id
        )
    )


async def set_conversation_key(
    db: AsyncConnection, conversation_id: uuid.UUID, key_id: str
) -> None:
    changed = await db.execute(
        search_conversations.update()
        .where(search_conversations.c.conversation_id == conversation_id)
        .values(key_id=key_id)
    )
    if changed.rowcount == 0:
        await db.execute(
            search_conversations.insert().values(conversation_id=conversation_id, key_id=key_id)
        )


async def delete_conversation_key(db: AsyncConnection, conversation_id: uuid.UUID) -> None:
    await db.execute(
        search_conversations.delete().where(
            search_conversations.c.conversation_id == conversation_id
        )
    )


async def keys_of(
    db: AsyncConnection, conversation_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, str]:
    rows = await db.execute(
        sa.select(search_conversations.c.conversation_id, search_conversations.c.key_id).where(
            search_conversations.c.conversation_id.in_(conversation_ids)
        )
    )
    return {row.conversation_id: row.key_id for row in rows}


async def keys_of_participant(db: AsyncConnection, user_id: uuid.UUID) -> dict[uuid.UUID, str]:
    """The index key of every conversation `user_id` takes part in (and that has terms)."""
    rows = await db.execute(
        sa.select(search_conversations.c.conversation_id, search_conversations.c.key_id)
        .join(conversations, conversations.c.id == search_conversations.c.conversation_id)
        .where(sa.or_(conversations.c.user_id == user_id, conversations.c.doctor_id == user_id))
    )
    return {row.conversation_id: row.key_id for row in rows}


async def add_terms(db: AsyncConnection, rows: Sequence[Row]) -> None:
    """Set the rows' bits (OR-ed into what is there); one (term, block) appears once."""
    write = terms_write(rows)
    if write is not None:
        await together.run(db, [write])


def terms_write(rows: Sequence[Row]) -> Write | None:
    """`add_terms` as a write to send with the rest of a batch (db/together.py).

    One statement for many rows, compiled once and cached (a multi-row VALUES compiled per batch
    was once the send path's largest CPU cost, bench/README.md); in (term, block) order, so two
    writers lock rows in the same order.
    """
    if not rows:
        return None
    values = [{"term": term, "block": block, "bits": bits} for term, block, bits in sorted(rows)]
    return together.insert_rows(
        search_terms,
        values,
        "ON CONFLICT (term, block) DO UPDATE SET bits = search_terms.bits | excluded.bits",
    )


async def delete_terms(db: AsyncConnection, terms: Iterable[int]) -> None:
    wanted = sorted(set(terms))
    for start in range(0, len(wanted), CHUNK):
        await db.execute(
            search_terms.delete().where(search_terms.c.term.in_(wanted[start : start + CHUNK]))
        )


async def lookup(db: AsyncConnection, terms: Iterable[int]) -> list[Row]:
    """Every row of the terms, in one statement (the terms as one parameter, db/values.py)."""
    wanted = set(terms)
    if not wanted:
        return []
    rows = await db.execute(
        sa.select(search_terms.c.term, search_terms.c.block, search_terms.c.bits).where(
            any_of(search_terms.c.term, db.dialect.name, wanted)
        )
    )
    return [(row.term, row.block, row.bits) for row in rows]


async def stale_conversations(db: AsyncConnection, key_id: str) -> list[uuid.UUID]:
    """Conversations whose terms are not (all) under `key_id`: none yet, or an older key."""
    rows = await db.execute(
        sa.select(conversations.c.id)
        .outerjoin(
            search_conversations, search_conversations.c.conversation_id == conversations.c.id
        )
        .where(
            sa.or_(search_conversations.c.key_id.is_(None), search_conversations.c.key_id != key_id)
        )
        .order_by(conversations.c.id)
    )
    return [row.id for row in rows]
