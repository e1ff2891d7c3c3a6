"""The jobs' tables: `outbox` (jobs waiting to run) and `job_runs` (effects applied once).

Every statement on these two tables is here. Claims and completions take lists of jobs, so a
relay can settle a batch in one transaction.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from medtalk.db import together, upsert
from medtalk.db.tables import job_runs, notification_marks, outbox
from medtalk.db.together import Write
from medtalk.jobs.job import Job

# --- outbox ------------------------------------------------------------------------------


async def add_jobs(
    db: AsyncConnection,
    kind: str,
    payloads: list[dict[str, Any]],
    now: datetime,
    available_at: datetime | None = None,
) -> list[uuid.UUID]:
    ids = [uuid.uuid4() for _ in payloads]
    if payloads:
        rows = [
            _row(job_id, kind, payload, now, available_at)
            for job_id, payload in zip(ids, payloads, strict=True)
        ]
        await db.execute(outbox.insert(), rows)
    return ids


def coalesced_write(kind: str, jobs: dict[str, dict[str, Any]], now: datetime) -> Write:
    """One pending job per coalesce key (`jobs`: key -> payload), to send with the rest of a
    batch (db/together.py): a key that already has a pending row keeps that row (and its due
    time) and only bumps its revision, so a runner holding the older revision leaves the row
    for another run instead of deleting it."""
    rows = [
        {**_row(uuid.uuid4(), kind, payload, now, None), "coalesce_key": key}
        for key, payload in sorted(jobs.items())  # one order: concurrent batches cannot deadlock
    ]
    return together.insert_rows(
        outbox,
        rows,
        # The index's predicate, word for word: both databases match the partial index by it.
        "ON CONFLICT (coalesce_key) WHERE status = 'PENDING' "
        "DO UPDATE SET revision = outbox.revision + 1",
    )


def _row(
    job_id: uuid.UUID,
    kind: str,
    payload: dict[str, Any],
    now: datetime,
    available_at: datetime | None,
) -> dict[str, Any]:
    return {
        "id": job_id,
        "kind": kind,
        "payload": json.dumps(payload),
        "status": "PENDING",
        "attempts": 0,
        "revision": 0,
        "available_at": available_at or now,
        "created_at": now,
    }


async def claim_due(
    db: AsyncConnection,
    now: datetime,
    limit: int,
    lease: timedelta,
    *,
    skip_locked: bool,
    kinds: Collection[str] | None = None,
) -> list[Job]:
    """Take up to `limit` due rows (of `kinds`, or any), hiding them from others for `lease`."""
    query = (
        sa.select(
            outbox.c.id, outbox.c.kind, outbox.c.payload, outbox.c.attempts, outbox.c.revision
        )
        .where(outbox.c.status == "PENDING", outbox.c.available_at <= now)
        .order_by(outbox.c.available_at, outbox.c.created_at)
        .limit(limit)
    )
    if kinds is not None:
        query = query.where(outbox.c.kind.in_(list(kinds)))
    if skip_locked:
        query = query.with_for_update(skip_locked=True)
    rows = list(await db.execute(query))
    if rows:
        await extend(db, [row.id for row in rows], now + lease)
    return [
        Job(row.id, row.kind, json.loads(row.payload), row.attempts, row.revision) for row in rows
    ]


async def extend(db: AsyncConnection, job_ids: Iterable[uuid.UUID], until: datetime) -> None:
    """Keep claimed rows hidden until `until` (their jobs are still running), or, with `until`
    now, hand them back at once (a runner that stops releases what it did not finish)."""
    ids = list(job_ids)
    if ids:
        await db.execute(
            outbox.update()
            .where(outbox.c.id.in_(ids), outbox.c.status == "PENDING")
            .values(available_at=until)
        )


async def finish(db: AsyncConnection, jobs: Iterable[Job], now: datetime) -> None:
    """Delete done jobs. A coalesced row written to again since it was claimed (its revision
    moved on) is not done: it is offered again now."""
    done = list(jobs)
    if not done:
        return
    deleted = await db.execute(
        outbox.delete()
        .where(sa.tuple_(outbox.c.id, outbox.c.revision).in_([(j.id, j.revision) for j in done]))
        .returning(outbox.c.id)
    )
    left = {job.id for job in done} - set(deleted.scalars())
    await extend(db, left, now)  # written to meanwhile: offered again now


async def postpone(
    db: AsyncConnection,
    job_id: uuid.UUID,
    until: datetime,
    error: str,
    *,
    failed: bool = True,
    dead: bool = False,
) -> None:
    """Offer the job again at `until`; a failure counts an attempt, a deferral does not."""
    values: dict[str, Any] = {
        "available_at": until,
        "last_error": error[:300],
        "status": "DEAD" if dead else "PENDING",
    }
    if failed:
        values["attempts"] = outbox.c.attempts + 1
    await db.execute(outbox.update().where(outbox.c.id == job_id).values(**values))


async def pending_count(db: AsyncConnection) -> int:
    query = sa.select(sa.func.count()).select_from(outbox).where(outbox.c.status == "PENDING")
    return int((await db.execute(query)).scalar_one())


# --- job_runs: an effect applied exactly once ---------------------------------------------


class Claim(Enum):
    TAKEN = "taken"  # this run applies the effect
    DONE = "done"  # applied already
    BUSY = "busy"  # another run holds a fresh claim


async def claim_run(db: AsyncConnection, key: str, now: datetime, lease: timedelta) -> Claim:
    """Claim the effect `key`. Call it in a transaction of its own: an IntegrityError on
    commit means a concurrent run inserted the claim first (BUSY too)."""
    query = sa.select(job_runs).where(job_runs.c.job_key == key)
    if db.dialect.name == "postgresql":
        query = query.with_for_update()
    row = (await db.execute(query)).first()
    if row is None:
        await db.execute(job_runs.insert().values(job_key=key, claimed_at=now))
        return Claim.TAKEN
    if row.done_at is not None:
        return Claim.DONE
    if row.claimed_at > now - lease:
        return Claim.BUSY
    await db.execute(job_runs.update().where(job_runs.c.job_key == key).values(claimed_at=now))
    return Claim.TAKEN


async def run_done(db: AsyncConnection, key: str, now: datetime) -> None:
    await db.execute(job_runs.update().where(job_runs.c.job_key == key).values(done_at=now))


async def drop_claim(db: AsyncConnection, key: str) -> None:
    """Give a claim up (the effect failed): the next run may try at once."""
    await db.execute(
        job_runs.delete().where(job_runs.c.job_key == key, job_runs.c.done_at.is_(None))
    )


async def record_run(db: AsyncConnection, key: str, now: datetime) -> None:
    """Note an effect applied in this transaction, with no claim before it."""
    await db.execute(job_runs.insert().values(job_key=key, claimed_at=now, done_at=now))


# --- notification_marks: when a conversation's waiting messages were last told --------------


@dataclass(frozen=True)
class NotificationMark:
    seq: int
    notified_at: datetime


async def notification_mark(
    db: AsyncConnection, user_id: uuid.UUID, conversation_id: uuid.UUID
) -> NotificationMark | None:
    query = sa.select(notification_marks.c.seq, notification_marks.c.notified_at).where(
        notification_marks.c.user_id == user_id,
        notification_marks.c.conversation_id == conversation_id,
    )
    row = (await db.execute(query)).first()
    return NotificationMark(row.seq, row.notified_at) if row else None


async def set_notification_mark(
    db: AsyncConnection,
    user_id: uuid.UUID,
    conversation_id: uuid.UUID,
    seq: int,
    now: datetime,
) -> None:
    mark = upsert.insert(db, notification_marks).values(
        user_id=user_id, conversation_id=conversation_id, seq=seq, notified_at=now
    )
    await db.execute(
        mark.on_conflict_do_update(
            index_elements=["user_id", "conversation_id"],
            set_={"seq": mark.excluded.seq, "notified_at": mark.excluded.notified_at},
        )
    )
