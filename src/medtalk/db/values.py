"""Many values as one bound parameter (or two), for lookups by a long list of keys.

A long `IN (...)` list is one bound parameter per value: SQLAlchemy expands it for every call,
the database parses and plans a new statement each time, and SQLite turns a row-value IN list
into a full table scan. Here the values travel as an array (PostgreSQL) or as JSON (SQLite's
`json_each`), and the database probes its index once per value.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Collection, Mapping, Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


def any_of(
    column: sa.ColumnElement[int], dialect: str, values: Collection[int]
) -> sa.ColumnElement[bool]:
    """`column IN values`, the integers as one parameter."""
    if dialect == "postgresql":
        array = sa.bindparam("values", list(values), type_=postgresql.ARRAY(sa.BigInteger))
        return column == sa.any_(array)
    rows = sa.func.json_each(sa.bindparam("values", json.dumps(list(values)))).table_valued("value")
    return column.in_(sa.select(rows.c.value))


def conversation_seqs(dialect: str, wanted: Mapping[uuid.UUID, Sequence[int]]) -> sa.FromClause:
    """A table of (conversation_id, seq) rows, to join on."""
    if dialect == "postgresql":
        conversation_ids = [c for c, seqs in wanted.items() for _ in seqs]
        seqs = [seq for found in wanted.values() for seq in found]
        return (
            sa.func.unnest(
                sa.bindparam("conversations", conversation_ids, type_=postgresql.ARRAY(sa.Uuid)),
                sa.bindparam("seqs", seqs, type_=postgresql.ARRAY(sa.Integer)),
            )
            .table_valued("conversation_id", "seq")
            .render_derived(name="wanted")
        )
    # SQLite stores a Uuid as its 32 hex digits: {"<hex>": [seq, ...], ...}
    document = json.dumps({c.hex: list(seqs) for c, seqs in wanted.items()})
    conversations = sa.func.json_each(sa.bindparam("wanted", document)).table_valued(
        "key", "value", name="wanted_conversations"
    )
    seqs_of = sa.func.json_each(conversations.c.value).table_valued("value", name="wanted_seqs")
    return (
        sa.select(conversations.c.key.label("conversation_id"), seqs_of.c.value.label("seq"))
        .select_from(conversations.join(seqs_of, sa.true()))
        .subquery("wanted")
    )
