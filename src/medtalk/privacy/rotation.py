"""Re-encrypt everything under the newest key of the ring, in batches, resumably.

Message rows are rewritten in place (same associated data: the message id). Files are copied to
a new object sealed with the newest key, the row is switched over, then the old object deleted;
this goes through the FileStorage interface, so any backend that seals files (local disk today)
is rotated the same way. A conversation archive (a gzip'd object of message rows as stored,
jobs/kinds/archive.py) is rewritten as a new object with each row inside re-sealed too, on
every backend (S3 included: the rows inside are sealed by us whatever seals the object).
Rows under a key that is no longer in the ring cannot be opened: they are counted and the
rotation refuses to report success while any remain.
"""

from __future__ import annotations

import gzip
import json
import logging
import secrets
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncConnection

from medtalk.chat import store as chat_store
from medtalk.chat.store import ArchiveObject, SealedMessage
from medtalk.core.clock import Clock
from medtalk.core.crypto import DecryptionError, KeyRing
from medtalk.db.engine import Database
from medtalk.files import store as files_store
from medtalk.files.storage import FileStorage
from medtalk.files.store import SealedObject
from medtalk.privacy import store

logger = logging.getLogger(__name__)

Progress = Callable[[int], None]


@dataclass
class RotationReport:
    current_key: str
    messages_rotated: int = 0
    files_rotated: int = 0
    archives_rotated: int = 0
    unreadable: int = 0  # under a key of the ring but failing authentication (tampered)
    missing_keys: Counter[str] = field(default_factory=Counter)  # rows per unknown key id

    @property
    def complete(self) -> bool:
        return not self.missing_keys and not self.unreadable


async def pending(db: Database, keys: KeyRing) -> int:
    """Message rows, file rows and archives to look at (archives: all, the rows inside may be
    under an older key whatever seals the object)."""
    async with db.read() as connection:
        messages = await chat_store.count_messages_not_under(connection, keys.current_id)
        files = await files_store.count_not_under(connection, keys.current_id)
        archives = await chat_store.count_archives(connection)
    return messages + files + archives


async def rows_under_missing_keys(db: Database, keys: KeyRing) -> Counter[str]:
    """Rows (messages and files) whose key id is not in the ring, per key id."""
    found: Counter[str] = Counter()
    known = list(keys.keys)
    async with db.read() as connection:
        found.update(await chat_store.message_keys_outside(connection, known))
        found.update(await files_store.keys_outside(connection, known))
        found.update(await chat_store.archive_keys_outside(connection, known))
    return found


class KeyRotation:
    def __init__(
        self,
        db: Database,
        keys: KeyRing,
        storage: FileStorage,
        clock: Clock,
        *,
        batch_size: int = 500,
    ) -> None:
        self._db = db
        self._keys = keys
        self._storage = storage
        self._clock = clock
        self._batch = batch_size

    async def run(self, progress: Progress | None = None) -> RotationReport:
        report = RotationReport(self._keys.current_id)
        advance = progress or (lambda _n: None)
        await self._rotate_messages(report, advance)
        await self._rotate_files(report, advance)
        inside = await self._rotate_archives(report, advance)
        report.missing_keys = await rows_under_missing_keys(self._db, self._keys)
        report.missing_keys.update(inside)
        return report

    # --- checkpoints: where an interrupted run resumes ----------------------------------

    def _checkpoint_name(self, table: str) -> str:
        return f"rotate:{table}:{self._keys.current_id}"

    async def _checkpoint(self, name: str) -> uuid.UUID | None:
        async with self._db.read() as db:
            position = await store.checkpoint(db, name)
        return uuid.UUID(position) if position else None

    async def _save_checkpoint(self, db: AsyncConnection, name: str, last: uuid.UUID) -> None:
        await store.save_checkpoint(db, name, str(last), self._clock.now())

    async def _clear_checkpoint(self, name: str) -> None:
        async with self._db.transaction() as db:
            await store.clear_checkpoint(db, name)

    # --- messages -------------------------------------------------------------------------

    async def _rotate_messages(self, report: RotationReport, advance: Progress) -> None:
        name = self._checkpoint_name("messages")
        after = await self._checkpoint(name)
        current = self._keys.current_id
        while True:
            async with self._db.transaction() as db:
                rows = await chat_store.messages_not_under(db, current, after, self._batch)
                if not rows:
                    break
                for row in rows:
                    report.messages_rotated += await self._reseal_message(db, row, report)
                after = rows[-1].id
                await self._save_checkpoint(db, name, after)
            advance(len(rows))
        await self._clear_checkpoint(name)

    async def _reseal_message(
        self,
        db: AsyncConnection,
        row: SealedMessage,
        report: RotationReport,
    ) -> int:
        if row.key_id not in self._keys.keys:
            return 0  # counted at the end; nothing we can do without the key
        try:
            text = self._keys.open_text(row.key_id, row.content, associated=str(row.id))
        except DecryptionError:
            report.unreadable += 1
            logger.error("message %s fails authentication; left as it is", row.id)
            return 0
        key_id, sealed = self._keys.seal_text(text, associated=str(row.id))
        # Only if nobody changed the row meanwhile (compare-and-set on the old ciphertext).
        return int(await chat_store.reseal_message(db, row, key_id, sealed))

    # --- files ----------------------------------------------------------------------------

    async def _rotate_files(self, report: RotationReport, advance: Progress) -> None:
        name = self._checkpoint_name("files")
        after = await self._checkpoint(name)
        current = self._keys.current_id
        while True:
            async with self._db.read() as db:
                rows = await files_store.files_not_under(
                    db, current, after, max(1, self._batch // 10)
                )
            if not rows:
                break
            for row in rows:
                report.files_rotated += await self._reseal_file(row, report)
            after = rows[-1].id
            async with self._db.transaction() as db:
                await self._save_checkpoint(db, name, after)
            advance(len(rows))
        await self._clear_checkpoint(name)

    async def _reseal_file(self, row: SealedObject, report: RotationReport) -> int:
        if row.key_id not in self._keys.keys:
            return 0
        new_key = secrets.token_hex(20)
        try:
            key_id = await self._storage.put(
                new_key, self._storage.read(row.storage_key, row.key_id)
            )
        except DecryptionError:
            report.unreadable += 1
            logger.error("file %s fails authentication; left as it is", row.id)
            return 0
        except FileNotFoundError:
            report.unreadable += 1
            logger.error("file %s has no stored object", row.id)
            return 0
        async with self._db.transaction() as db:
            switched = await files_store.switch_object(db, row, new_key, key_id)
        if switched:
            await self._storage.delete(row.storage_key)
            return 1
        await self._storage.delete(new_key)  # the row changed under us (purged): drop the copy
        return 0

    # --- archives -------------------------------------------------------------------------

    async def _rotate_archives(self, report: RotationReport, advance: Progress) -> Counter[str]:
        """Rewrite each archive whose object or rows inside are under an older key; returns
        the rows inside under keys not in the ring, per key id."""
        name = self._checkpoint_name("archives")
        after = await self._checkpoint(name)
        missing: Counter[str] = Counter()
        while True:
            async with self._db.read() as db:
                rows = await chat_store.archives_after(db, after, max(1, self._batch // 10))
            if not rows:
                break
            for row in rows:
                report.archives_rotated += await self._reseal_archive(row, report, missing)
            after = rows[-1].conversation_id
            async with self._db.transaction() as db:
                await self._save_checkpoint(db, name, after)
            advance(len(rows))
        await self._clear_checkpoint(name)
        return missing

    async def _reseal_archive(
        self, row: ArchiveObject, report: RotationReport, missing: Counter[str]
    ) -> int:
        if row.key_id is not None and row.key_id not in self._keys.keys:
            return 0  # the object itself: counted with the rows under missing keys
        try:
            sealed = b"".join([p async for p in self._storage.read(row.storage_key, row.key_id)])
            lines = gzip.decompress(sealed).decode().splitlines()
        except (DecryptionError, FileNotFoundError, OSError, EOFError) as error:
            report.unreadable += 1
            logger.error("archive of %s cannot be read (%s); left as it is", row.conversation_id,
                         type(error).__name__)  # fmt: skip
            return 0
        records = [json.loads(line) for line in lines]
        changed = sum(self._reseal_record(record, report, missing) for record in records)
        current = self._keys.current_id
        if not changed and row.key_id in (None, current):
            return 0
        blob = gzip.compress(
            "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records).encode(),
            compresslevel=6,
        )
        new_key = f"archive{row.conversation_id.hex}-{secrets.token_hex(8)}"
        key_id = await self._storage.put(new_key, _once(blob))
        async with self._db.transaction() as db:
            switched = await chat_store.switch_archive(db, row, new_key, key_id)
        if switched:
            await self._storage.delete(row.storage_key)
            return 1
        await self._storage.delete(new_key)  # the row changed under us (purged): drop the copy
        return 0

    def _reseal_record(
        self, record: dict[str, object], report: RotationReport, missing: Counter[str]
    ) -> bool:
        """Re-seal one archived message row under the newest key; whether it changed."""
        key_id, content = record.get("key_id"), record.get("content")
        if not isinstance(key_id, str) or not isinstance(content, str):
            return False
        if key_id == self._keys.current_id:
            return False
        if key_id not in self._keys.keys:
            missing[key_id] += 1
            return False
        try:
            text = self._keys.open_text(key_id, content, associated=str(record["id"]))
        except DecryptionError:
            report.unreadable += 1
            logger.error("archived message %s fails authentication; left as it is", record["id"])
            return False
        record["key_id"], record["content"] = self._keys.seal_text(
            text, associated=str(record["id"])
        )
        return True


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data
