"""Searching the caller's conversations: index lookup, then each hit opened and checked.

Every word of the query must be in the message (after folding). The index only narrows the
candidates: each one is decrypted and its words compared, so a hash collision never shows a
wrong message. Results are newest first, `limit` at a time, with an opaque cursor. Each search
is audited here (`message.search`, the number of results, never the query: it is PHI).
"""

from __future__ import annotations

import base64
import uuid
from collections import defaultdict
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from medtalk.audit import AuditTrail, RequestContext
from medtalk.chat import store as chat_store
from medtalk.chat.schemas import Message
from medtalk.chat.service import ChatService
from medtalk.core.clock import parse_iso
from medtalk.core.crypto import KeyRing
from medtalk.core.errors import Invalid
from medtalk.core.wire import WireModel
from medtalk.db.engine import Database
from medtalk.search import blind, store
from medtalk.search.tokens import words

MAX_QUERY_WORDS = 8
WINDOW = 10  # candidates read beyond the page, for the rare one that does not match


class SearchPage(WireModel):
    query: str
    words: list[str]  # the query's words as matched (folded): what a client highlights
    messages: list[Message]
    next_cursor: str | None = None


class SearchService:
    def __init__(self, db: Database, keys: KeyRing, chat: ChatService, audit: AuditTrail) -> None:
        self._db = db
        self._keys = keys
        self._chat = chat
        self._audit = audit

    async def search(
        self,
        context: RequestContext,
        query: str,
        conversation_id: uuid.UUID | None,
        cursor: str | None,
        limit: int,
    ) -> SearchPage:
        """Messages of the caller's conversations (or of `conversation_id`) with every word of
        `query`, newest first; audited."""
        page = await self._search(context, query, conversation_id, cursor, limit)
        await self._audit.record(
            "message.search",
            actor=context.actor,
            client=context.client,
            object_type="conversation" if conversation_id else None,
            object_id=conversation_id,
            conversation_id=conversation_id,
            detail=f"{len(page.messages)} results",
        )
        return page

    async def _search(
        self,
        context: RequestContext,
        query: str,
        conversation_id: uuid.UUID | None,
        cursor: str | None,
        limit: int,
    ) -> SearchPage:
        caller = context.actor
        wanted = words(query)[:MAX_QUERY_WORDS]
        if not wanted:
            raise Invalid("the query needs a word of at least two letters or digits")
        after = _parse_cursor(cursor)
        if conversation_id is not None:  # NotFound unless the caller may read it
            await self._chat.conversation_for(caller, conversation_id)
        found: list[Message] = []
        async with self._db.read() as db:
            if conversation_id is not None:
                keys = await store.keys_of(db, [conversation_id])
            else:
                keys = await store.keys_of_participant(db, caller.user_id)
            candidates = await self._candidates(db, keys, wanted)
            window = {c: sorted(s) for c, s in candidates.items()}
            if after is None:  # within a conversation, seq order is time order
                window = {c: seqs[-(limit + WINDOW) :] for c, seqs in window.items()}
            while len(found) <= limit:
                rows = await chat_store.newest_with_seqs(db, window, after, limit + WINDOW)
                for row in rows:
                    message = self._chat.view(row)
                    # The index only narrows: a word must really be there (no collisions).
                    if not message.unreadable and set(wanted) <= set(words(message.content)):
                        found.append(message)
                if len(rows) < limit + WINDOW:
                    break
                after = (rows[-1].sent_at, rows[-1].id)
        more = len(found) > limit
        page = found[:limit]
        return SearchPage(
            query=query,
            words=wanted,
            messages=page,
            next_cursor=_cursor(page[-1]) if more and page else None,
        )

    async def _candidates(
        self, db: AsyncConnection, keys: dict[uuid.UUID, str], wanted: list[str]
    ) -> dict[uuid.UUID, set[int]]:
        """Seqs per conversation whose index has every wanted word."""
        owner: dict[int, tuple[uuid.UUID, str]] = {}
        for conversation_id, key_id in keys.items():
            if key_id not in self._keys.keys:
                continue  # terms under a retired key: unsearchable until rebuilt
            key = blind.search_key(self._keys, key_id)
            for word in wanted:
                owner[blind.term(key, conversation_id, word)] = (conversation_id, word)
        hits: dict[tuple[uuid.UUID, str], set[int]] = defaultdict(set)
        for term, block, bits in await store.lookup(db, owner):
            hits[owner[term]].update(blind.seqs_of(block, bits))
        result: dict[uuid.UUID, set[int]] = {}
        for conversation_id in keys:
            sets = [hits.get((conversation_id, word), set()) for word in wanted]
            common = set.intersection(*sets) if sets else set()
            if common:
                result[conversation_id] = common
        return result


def _cursor(message: Message) -> str:
    raw = f"{message.sent_at.isoformat()}|{message.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _parse_cursor(cursor: str | None) -> tuple[datetime, uuid.UUID] | None:
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        moment, message_id = raw.split("|", 1)
        return parse_iso(moment), uuid.UUID(message_id)
    except (ValueError, UnicodeDecodeError, OverflowError):
        raise Invalid("cursor is not one this server gave") from None
