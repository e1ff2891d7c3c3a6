"""Writing the blind index: with each message (same transaction), and rebuilt per conversation
when the encryption keys rotate (resumable: each conversation is one transaction)."""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from medtalk.chat import store as chat_store
from medtalk.chat.store import MessageRow
from medtalk.core.crypto import DecryptionError, KeyRing
from medtalk.db.engine import Database
from medtalk.db.together import Write
from medtalk.search import blind, store
from medtalk.search.tokens import words

logger = logging.getLogger(__name__)

PAGE = 500
UNINDEXED = {"CALL"}  # a call's own message holds JSON, not words anyone wrote


@dataclass(frozen=True)
class Written:
    """A message as the index needs it: where it is and what it says (plaintext)."""

    conversation_id: uuid.UUID
    seq: int
    content_type: str
    text: str

    @classmethod
    def of(cls, message: MessageRow, text: str) -> Written:
        return cls(message.conversation_id, message.seq, message.content_type, text)


@dataclass
class RebuildReport:
    key_id: str
    conversations: int = 0
    messages: int = 0
    unreadable: int = 0


class SearchIndex:
    def __init__(self, keys: KeyRing) -> None:
        self._keys = keys

    async def terms_write(
        self,
        db: AsyncConnection,
        messages: Sequence[Written],
        keys: Mapping[uuid.UUID, str | None],
    ) -> Write | None:
        """Index new messages inside their transaction (the conversation row is locked): their
        terms as a write the caller sends with the rest of its batch (db/together.py).

        A conversation's first message starts its index under the current key; a conversation
        that had messages before the index existed is left to `rebuild` (else its old history
        would never be indexed). `keys`: each conversation's current index key, or None (the
        send path reads them with the conversations' lock, chat/store.py).
        """
        by_conversation: dict[uuid.UUID, list[Written]] = defaultdict(list)
        for message in messages:
            by_conversation[message.conversation_id].append(message)
        rows: dict[tuple[int, int], int] = {}
        for conversation_id, written in by_conversation.items():
            key_id = keys.get(conversation_id)
            if key_id is None:
                if min(message.seq for message in written) != 1:
                    continue
                key_id = self._keys.current_id
                await store.set_conversation_key(db, conversation_id, key_id)
            indexed = [m for m in written if m.content_type not in UNINDEXED]
            _collect(rows, blind.search_key(self._keys, key_id), conversation_id, indexed)
        return store.terms_write([(term, block, bits) for (term, block), bits in rows.items()])

    async def rebuild(
        self, db: Database, progress: Callable[[int], None] | None = None
    ) -> RebuildReport:
        """Re-make every conversation's terms that are not under the current key (or missing).

        Interrupted, it resumes where it stopped: a finished conversation records its key.
        """
        report = RebuildReport(self._keys.current_id)
        async with db.read() as connection:
            stale = await store.stale_conversations(connection, self._keys.current_id)
        for conversation_id in stale:
            async with db.transaction() as connection:
                await chat_store.lock_conversations(connection, {conversation_id})
                messages, unreadable = await self._history(connection, conversation_id)
                old_key = await store.conversation_key(connection, conversation_id)
                if old_key in self._keys.keys:
                    old: dict[tuple[int, int], int] = {}
                    _collect(old, blind.search_key(self._keys, old_key), conversation_id, messages)
                    await store.delete_terms(connection, (term for term, _block in old))
                new: dict[tuple[int, int], int] = {}
                key = blind.search_key(self._keys, self._keys.current_id)
                _collect(new, key, conversation_id, messages)
                await store.add_terms(connection, [(t, b, bits) for (t, b), bits in new.items()])
                await store.set_conversation_key(connection, conversation_id, self._keys.current_id)
            report.conversations += 1
            report.messages += len(messages)
            report.unreadable += unreadable
            if progress is not None:
                progress(1)
        return report

    async def forget(self, db: AsyncConnection, conversation_id: uuid.UUID) -> int:
        """Delete the conversation's terms and key row, inside the transaction that deletes its
        messages (retention), before they go: a term is found again only from its word.

        Returns how many indexed messages could not be read (failing authentication, or under
        a key no longer in the ring): their terms cannot be found, and stay.
        """
        key_id = await store.conversation_key(db, conversation_id)
        if key_id is None:
            return 0
        messages, unreadable = await self._history(db, conversation_id)
        if key_id not in self._keys.keys:
            unreadable += len(messages)
        else:
            found: dict[tuple[int, int], int] = {}
            _collect(found, blind.search_key(self._keys, key_id), conversation_id, messages)
            await store.delete_terms(db, (term for term, _block in found))
        await store.delete_conversation_key(db, conversation_id)
        if unreadable:
            logger.warning(
                "conversation %s: the search terms of %d unreadable messages stay",
                conversation_id,
                unreadable,
            )
        return unreadable

    async def stale_count(self, db: Database) -> int:
        async with db.read() as connection:
            return len(await store.stale_conversations(connection, self._keys.current_id))

    async def _history(
        self, db: AsyncConnection, conversation_id: uuid.UUID
    ) -> tuple[list[Written], int]:
        found: list[Written] = []
        unreadable, after = 0, 0
        while True:
            page = await chat_store.messages_after_seq(db, conversation_id, after, PAGE)
            for row in page:
                try:
                    text = self._keys.open_text(row.key_id, row.content, associated=str(row.id))
                except (DecryptionError, ValueError):
                    unreadable += 1
                    continue
                if row.content_type not in UNINDEXED:
                    found.append(Written(conversation_id, row.seq, row.content_type, text))
            if len(page) < PAGE:
                return found, unreadable
            after = page[-1].seq


def _collect(
    rows: dict[tuple[int, int], int],
    key: bytes,
    conversation_id: uuid.UUID,
    messages: Sequence[Written],
) -> None:
    """OR each message's (term, block) bit into `rows`."""
    for message in messages:
        block, bit = blind.block_of(message.seq)
        for word in words(message.text):
            slot = (blind.term(key, conversation_id, word), block)
            rows[slot] = rows.get(slot, 0) | bit
