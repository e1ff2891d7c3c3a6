"""The file store interface: put a stream under a generated key, read it back, delete it."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass


@dataclass(frozen=True)
class ByteRange:
    """Bytes `start` to `end` of an object, both inclusive (as in HTTP's Range header)."""

    start: int
    end: int

    @property
    def length(self) -> int:
        return self.end - self.start + 1


class FileStorage(ABC):
    @abstractmethod
    async def put(self, key: str, chunks: AsyncIterator[bytes]) -> str | None:
        """Store the stream under `key`; returns the encryption key id, if we encrypt."""

    @abstractmethod
    def read(self, key: str, key_id: str | None) -> AsyncIterator[bytes]:
        """The stored bytes, decrypted, as a stream; FileNotFoundError if there is none."""

    async def read_range(
        self, key: str, key_id: str | None, wanted: ByteRange
    ) -> AsyncIterator[bytes]:
        """Only the bytes of `wanted`; backends override this to skip what is not asked for."""
        offset = 0
        async for piece in self.read(key, key_id):
            low, high = max(wanted.start - offset, 0), min(wanted.end + 1 - offset, len(piece))
            if low < high:
                yield piece[low:high]
            offset += len(piece)
            if offset > wanted.end:
                break

    @abstractmethod
    async def delete(self, key: str) -> None:
        """Remove the object; a missing one is not an error."""

    async def download_url(
        self, key: str, ttl_seconds: int, *, content_type: str, disposition: str
    ) -> str | None:
        """A short-lived URL that serves the object directly, where the backend has one."""
        return None

    async def close(self) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Release connections (called once when the app stops)."""
