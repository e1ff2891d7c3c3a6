"""Byte streams passed through while they are stored."""

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
