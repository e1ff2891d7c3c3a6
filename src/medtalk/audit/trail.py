"""The append-only, HMAC-chained audit log: record, query, export and verify.

Row n stores hash_n = HMAC-SHA256(secret, hash_{n-1} || canonical(row n)). Appends update the
single chain-head row first, which serializes them (row lock in PostgreSQL, the write lock in
SQLite) so no two rows ever claim the same predecessor. Never put message content, file names
or tokens in a record: ids, actions and outcomes only.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from medtalk.audit.refusals import SUMMARY_ACTION, RefusalSampler, Suppressed
from medtalk.core.auth import Principal
from medtalk.core.clock import Clock, iso_z
from medtalk.core.errors import MedtalkError
from medtalk.db import asyncpg_direct, together
from medtalk.db.engine import Database
from medtalk.db.group_commit import GroupCommit
from medtalk.db.tables import audit_chain_head, audit_log
from medtalk.db.together import Write

GENESIS_HASH = "0" * 64
EXPORT_BATCH = 1000
MAX_BATCH = 200  # rows per group-committed transaction


class Outcome(StrEnum):
    OK = "ok"
    DENIED = "denied"
    ERROR = "error"


@dataclass(frozen=True, slots=True)  # slots: one per open socket (issue 15)
class Client:
    """Where a request came from (the edge fills it in)."""

    ip: str | None = None
    user_agent: str | None = None


@dataclass(frozen=True)
class AuditRecord:
    seq: int
    at: datetime
    actor_id: uuid.UUID | None
    role: str | None
    action: str
    object_type: str | None
    object_id: str | None
    conversation_id: uuid.UUID | None
    client_ip: str | None
    user_agent: str | None
    outcome: str
    detail: str | None
    prev_hash: str
    hash: str

    def canonical(self) -> bytes:
        """The bytes the HMAC covers: every field but the hashes, in a fixed JSON form."""
        # Field by field, not dataclasses.asdict: asdict deep-copies every value, and that copy
        # was a measurable share of the per-message CPU (bench/README.md). Same bytes as before.
        fields = {name: getattr(self, name) for name in _CANONICAL_FIELDS}
        fields["at"] = iso_z(self.at)
        for name in ("actor_id", "conversation_id"):
            fields[name] = str(fields[name]) if fields[name] is not None else None
        return json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()

    def wire(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "at": iso_z(self.at),
            "userId": str(self.actor_id) if self.actor_id else None,
            "role": self.role,
            "action": self.action,
            "objectType": self.object_type,
            "objectId": self.object_id,
            "conversationId": str(self.conversation_id) if self.conversation_id else None,
            "clientIp": self.client_ip,
            "userAgent": self.user_agent,
            "outcome": self.outcome,
            "detail": self.detail,
            "hash": self.hash,
        }


_CANONICAL_FIELDS = tuple(name for name in AuditRecord.__dataclass_fields__ if "hash" not in name)


# The chain head's statements, built once: appends run with every message batch, and a
# statement built per call costs its cache key each time (bench/README.md).
_CLAIM_SEQS = (
    audit_chain_head.update()
    .where(audit_chain_head.c.id == 1)
    .values(seq=audit_chain_head.c.seq + sa.bindparam("count"))
    .returning(audit_chain_head.c.seq, audit_chain_head.c.hash)
)
_CLAIM_SEQS_PG = "UPDATE audit_chain_head SET seq = seq + $1 WHERE id = 1 RETURNING seq, hash"


@dataclass(frozen=True)
class VerifyResult:
    checked: int
    broken_at: int | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.broken_at is None


def chain_hash(secret: bytes, prev_hash: str, record: AuditRecord) -> str:
    return hmac.new(secret, prev_hash.encode() + record.canonical(), hashlib.sha256).hexdigest()


def _shallow(value: AuditEntry | AuditRecord) -> dict[str, Any]:
    """A dataclass's fields as a dict, without asdict's deep copy (all values are immutable)."""
    return {name: getattr(value, name) for name in value.__dataclass_fields__}


def _appends(rows: list[dict[str, Any]]) -> list[Write]:
    """The chained rows' INSERT and the head's new hash (one statement on PostgreSQL)."""
    head_hash = rows[-1]["hash"]
    return [
        together.insert_rows(audit_log, rows),
        Write(
            (audit_chain_head.c.hash,),
            [(head_hash,)],
            "UPDATE audit_chain_head SET hash = ? WHERE id = 1",
            "UPDATE audit_chain_head SET hash = ({})[1] WHERE id = 1",
        ),
    ]


def _clip(value: str | None, limit: int) -> str | None:
    return value[:limit] if value else None


@dataclass(frozen=True)
class AuditEntry:
    """A row before the chain gives it a seq and a hash."""

    at: datetime
    actor_id: uuid.UUID | None
    role: str | None
    action: str
    object_type: str | None
    object_id: str | None
    conversation_id: uuid.UUID | None
    client_ip: str | None
    user_agent: str | None
    outcome: str
    detail: str | None


class AuditTrail:
    """`record` appends through one writer task per process (db/group_commit.py): concurrent
    records share a transaction, so the serialized chain is not one commit per row; a batch
    that fails as a whole is appended row by row, in the same order."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        secret: str,
        *,
        max_batch: int = MAX_BATCH,
        refusals_per_window: int = 0,
        refusal_window_seconds: float = 60.0,
    ) -> None:
        self._db = db
        self._clock = clock
        self._secret = secret.encode()
        self._writer: GroupCommit[AuditEntry, int] = GroupCommit(
            self._commit_batch, self._commit_one, max_batch=max_batch
        )
        # security (issue 16): refusals per client and window, the rest as one summary row
        self.refusals = RefusalSampler(
            refusals_per_window, refusal_window_seconds, self._write_suppressed
        )

    async def record(
        self,
        action: str,
        *,
        actor: Principal | None = None,
        object_type: str | None = None,
        object_id: object = None,
        conversation_id: uuid.UUID | None = None,
        outcome: Outcome = Outcome.OK,
        client: Client | None = None,
        detail: str | None = None,
        actor_id: uuid.UUID | None = None,
        role: str | None = None,
    ) -> int:
        """Append one row; returns its seq once it is committed (0: a refusal only counted)."""
        entry = self._entry(
            action, actor, object_type, object_id, conversation_id, outcome, client, detail,
            actor_id, role,
        )  # fmt: skip
        if entry.outcome != Outcome.OK and not self.refusals.admit(
            entry.at, entry.client_ip, entry.actor_id, entry.role, entry.user_agent
        ):
            return 0
        return await self._writer.submit(entry)

    async def _write_suppressed(self, suppressed: Suppressed) -> int:
        window = self.refusals.window_seconds
        detail = (
            f"{suppressed.count} more refusals of this client in the {window:g} s from "
            f"{iso_z(suppressed.window_start)} were counted, not written one by one"
        )
        entry = self._entry(
            SUMMARY_ACTION, None, None, None, None, Outcome.DENIED,
            Client(suppressed.client_ip, suppressed.user_agent), detail,
            suppressed.actor_id, suppressed.role,
        )  # fmt: skip
        return await self._writer.submit(entry)

    async def append(
        self,
        db: AsyncConnection,
        action: str,
        *,
        actor: Principal | None = None,
        object_type: str | None = None,
        object_id: object = None,
        conversation_id: uuid.UUID | None = None,
        outcome: Outcome = Outcome.OK,
        client: Client | None = None,
        detail: str | None = None,
        actor_id: uuid.UUID | None = None,
        role: str | None = None,
    ) -> int:
        """Append one row inside the caller's transaction (it commits with the action)."""
        entry = self._entry(
            action, actor, object_type, object_id, conversation_id, outcome, client, detail,
            actor_id, role,
        )  # fmt: skip
        (seq,) = await self._append_many(db, [entry])
        return seq

    def entry(
        self,
        action: str,
        *,
        actor: Principal,
        client: Client | None,
        object_type: str,
        object_id: object,
        conversation_id: uuid.UUID | None,
    ) -> AuditEntry:
        """A successful action's row, to append later with `chain_writes`."""
        return self._entry(
            action, actor, object_type, object_id, conversation_id, Outcome.OK, client, None,
            None, None,
        )  # fmt: skip

    async def chain_writes(self, db: AsyncConnection, entries: Sequence[AuditEntry]) -> list[Write]:
        """Rows to append inside the caller's transaction, as writes it sends with the rest of
        its batch (db/together.py): a batch of messages and their audit rows commit together.
        Their seqs are claimed now, which locks the chain head until the commit: call it last,
        just before the batch's writes go."""
        if not entries:
            return []
        return _appends(await self._chained_rows(db, list(entries)))

    def _entry(
        self,
        action: str,
        actor: Principal | None,
        object_type: str | None,
        object_id: object,
        conversation_id: uuid.UUID | None,
        outcome: Outcome,
        client: Client | None,
        detail: str | None,
        actor_id: uuid.UUID | None,
        role: str | None,
    ) -> AuditEntry:
        client = client or Client()
        return AuditEntry(
            at=self._clock.now(),
            actor_id=actor.user_id if actor else actor_id,
            role=actor.role.value if actor else role,
            action=action[:64],
            object_type=_clip(object_type, 32),
            object_id=_clip(str(object_id) if object_id is not None else None, 64),
            conversation_id=conversation_id,
            client_ip=_clip(client.ip, 64),
            user_agent=_clip(client.user_agent, 300),
            outcome=Outcome(outcome).value,
            detail=_clip(detail, 300),
        )

    async def _append_many(self, db: AsyncConnection, entries: list[AuditEntry]) -> list[int]:
        rows = await self._chained_rows(db, entries)
        await together.run(db, _appends(rows))
        return [row["seq"] for row in rows]

    async def _chained_rows(
        self, db: AsyncConnection, entries: list[AuditEntry]
    ) -> list[dict[str, Any]]:
        """The entries' rows with their seqs and hashes, the seqs claimed from the chain head."""
        # UPDATE first: it takes the head's lock before anything is read (see module docstring).
        if db.dialect.name == "postgresql":  # every message batch claims (db/asyncpg_direct.py)
            [head] = await asyncpg_direct.fetch(db, _CLAIM_SEQS_PG, len(entries))
            head_seq, head_hash = head["seq"], head["hash"]
        else:
            head_seq, head_hash = (await db.execute(_CLAIM_SEQS, {"count": len(entries)})).one()
        seq, previous = int(head_seq) - len(entries), str(head_hash)
        rows: list[dict[str, Any]] = []
        for entry in entries:
            seq += 1
            record = AuditRecord(seq=seq, **_shallow(entry), prev_hash=previous, hash="")
            previous = chain_hash(self._secret, record.prev_hash, record)
            rows.append({**_shallow(record), "hash": previous})
        return rows

    # --- the group-committed writer -----------------------------------------------------

    async def _commit_batch(self, entries: Sequence[AuditEntry]) -> list[int | MedtalkError]:
        async with self._db.transaction() as db:
            return list(await self._append_many(db, list(entries)))

    async def _commit_one(self, entry: AuditEntry) -> int:
        async with self._db.transaction() as db:
            (seq,) = await self._append_many(db, [entry])
        return seq

    # --- reading --------------------------------------------------------------------------

    async def query(
        self,
        *,
        user_id: uuid.UUID | None = None,
        conversation_id: uuid.UUID | None = None,
        action: str | None = None,
        since: datetime | None = None,
        after_seq: int = 0,
        limit: int = 100,
    ) -> list[AuditRecord]:
        """Matching rows in chain order (oldest first), starting after `after_seq`."""
        query = sa.select(audit_log).where(audit_log.c.seq > after_seq)
        if user_id is not None:
            query = query.where(audit_log.c.actor_id == user_id)
        if conversation_id is not None:
            query = query.where(audit_log.c.conversation_id == conversation_id)
        if action is not None:
            query = query.where(audit_log.c.action == action)
        if since is not None:
            query = query.where(audit_log.c.at >= since)
        query = query.order_by(audit_log.c.seq).limit(limit)
        async with self._db.read() as db:
            return [AuditRecord(**row._asdict()) for row in await db.execute(query)]

    async def iterate(self, **filters: Any) -> AsyncIterator[AuditRecord]:
        """Every matching row, in batches (for exports of any size)."""
        after = 0
        while True:
            batch = await self.query(**filters, after_seq=after, limit=EXPORT_BATCH)
            for record in batch:
                yield record
            if len(batch) < EXPORT_BATCH:
                return
            after = batch[-1].seq

    async def verify(self) -> VerifyResult:
        """Walk the chain; the first row whose link or HMAC does not match is where it breaks."""
        expected_prev, expected_seq, checked = GENESIS_HASH, 1, 0
        async for record in self.iterate():
            if record.seq != expected_seq:
                return VerifyResult(
                    checked,
                    expected_seq,
                    f"rows {expected_seq}..{record.seq - 1} are missing (deleted)",
                )
            if record.prev_hash != expected_prev:
                return VerifyResult(checked, record.seq, "link to the previous row does not match")
            if not hmac.compare_digest(
                chain_hash(self._secret, record.prev_hash, record), record.hash
            ):
                return VerifyResult(checked, record.seq, "row content does not match its HMAC")
            expected_prev, expected_seq, checked = record.hash, record.seq + 1, checked + 1
        async with self._db.read() as db:
            head = (await db.execute(sa.select(audit_chain_head))).one()
        if head.seq != expected_seq - 1 or head.hash != expected_prev:
            return VerifyResult(
                checked,
                expected_seq,
                f"the chain ends at row {expected_seq - 1} but its head says {head.seq} "
                "(rows deleted at the end)",
            )
        return VerifyResult(checked)
