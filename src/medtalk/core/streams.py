"""Byte streams: passed through while they are stored, read ahead, put together."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator


class Measured:
    """Passes a byte stream through, counting its size and its SHA-256 on the way.

    measured = Measured(chunks); await storage.put(key, measured.stream())
    then measured.size and measured.sha256 describe exactly what was stored."""

    def __init__(self, chunks: AsyncIterator[bytes]) -> None:
        self._chunks = chunks
        self._digest = hashlib.sha256()
        self.size = 0

    async def stream(self) -> AsyncIterator[bytes]:
        async for piece in self._chunks:
            self.size += len(piece)
            self._digest.update(piece)
            yield piece

    @property
    def sha256(self) -> str:
        return self._digest.hexdigest()


async def read_head(
    chunks: AsyncIterator[bytes], wanted: int
) -> tuple[bytes, AsyncIterator[bytes]]:
    """At least `wanted` bytes from the front of a stream (fewer if it is shorter), and the
    rest of it; `prepend` puts the head back."""
    head = b""
    async for piece in chunks:
        head += piece
        if len(head) >= wanted:
            break
    return head, chunks


async def prepend(head: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    if head:
        yield head
    async for piece in rest:
        yield piece


async def once(data: bytes) -> AsyncIterator[bytes]:
    """Bytes already in memory, as a stream."""
    yield data
